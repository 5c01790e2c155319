/* global process, console */
// Exits 0 once an AMQP handshake with the broker completes (a TCP connect
// alone can succeed while the broker is still booting or wedged).
import { connect } from 'amqplib';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
try {
  const model = await connect(url, { timeout: 5_000 });
  const channel = await model.createChannel();
  await channel.close();
  await model.close();
  process.exit(0);
} catch (err) {
  console.error(`AMQP handshake failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
