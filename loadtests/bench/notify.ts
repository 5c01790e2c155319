// Notifications benchmark, run by hand (not a harness scenario yet):
//   REDIS_URL=redis://127.0.0.1:6379/7 AMQP_URL=amqp://guest:guest@127.0.0.1:5672 node loadtests/bench/notify.ts
// 1. event → SSE delivery latency: 500 clients on two gateway replicas
//    (in this process, sharing Redis and RabbitMQ), events published on the
//    bus at a steady rate; latency = receipt at the client − publish time.
// 2. webhook deliveries per second to a local receiver (loopback, 200 OK),
//    one subscription, events published as fast as the bus confirms them.
// Everything runs on loopback, on the machine's shared cores.

import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../adapters/bus/index.ts';
import { ROUTING, type OrderStatusChangedEvent } from '../../adapters/contracts/messages.ts';
import { startWebhooks } from '../../adapters/webhooks/start.ts';
import { RedisWebhookStore } from '../../adapters/webhooks/store.ts';
import { buildGateway, type Gateway } from '../../gateway/app.ts';
import { loadConfigFile } from '../../gateway/config/load.ts';
import { demoOperatorToken, DEMO_JWT_SECRET } from '../../gateway/demo.ts';
import { createRedis } from '../../gateway/redis.ts';
import { POLICIES } from '../../policies/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/7';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const CLIENTS = Number(process.env.CLIENTS ?? 500);
const EVENTS = Number(process.env.EVENTS ?? 100);
const RATE = Number(process.env.RATE ?? 20);
const WEBHOOKS = Number(process.env.WEBHOOK_EVENTS ?? 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function statusEvent(sellerId: string, n: number) {
  const orderId = `ord_bench${randomBytes(4).toString('hex')}${n}`;
  const body: OrderStatusChangedEvent = { order_id: orderId, seller_id: sellerId, status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null, at: new Date().toISOString() };
  return { id: `${orderId}:PRICE_CALCULATED`, type: ROUTING.statusChanged, body };
}

async function listen(gateway: Gateway): Promise<string> {
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  const address = gateway.app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

async function sseLatency(bus: () => Promise<Bus>): Promise<void> {
  process.env.JWT_SECRET ??= DEMO_JWT_SECRET;
  const validated = loadConfigFile('gateway.config.yml', POLICIES);
  const replicas = [await buildGateway(validated, { logger: false, redisUrl: REDIS_URL, bus: await bus() }), await buildGateway(validated, { logger: false, redisUrl: REDIS_URL, bus: await bus() })];
  const urls = await Promise.all(replicas.map(listen));
  const token = await demoOperatorToken(process.env.JWT_SECRET);
  const publishedAt = new Map<string, number>();
  const samples: number[] = [];
  const sockets = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) =>
      new Promise<() => void>((resolve, reject) => {
        const req = request(`${urls[i % 2]}/internal/v1/orders/stream`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            const now = performance.now();
            buffer += chunk;
            for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
              const id = /"event_id":"([^"]+)"/.exec(buffer.slice(0, end))?.[1];
              buffer = buffer.slice(end + 2);
              const sent = id ? publishedAt.get(id) : undefined;
              if (sent !== undefined) samples.push(now - sent);
            }
          });
          resolve(() => req.destroy());
        });
        req.on('error', reject);
        req.end();
      }),
    ),
  );
  const publisher = await bus();
  for (let n = 0; n < EVENTS; n++) {
    const event = statusEvent('slr_0002', n);
    publishedAt.set(event.id, performance.now());
    await publisher.publish('events', ROUTING.statusChanged, event);
    await sleep(1000 / RATE);
  }
  for (let i = 0; i < 100 && samples.length < CLIENTS * EVENTS; i++) await sleep(50);
  samples.sort((a, b) => a - b);
  console.log(`| event → SSE, ${CLIENTS} clients on 2 replicas, ${EVENTS} events at ${RATE}/s | received ${samples.length}/${CLIENTS * EVENTS} | p50 ${percentile(samples, 50).toFixed(1)} ms | p95 ${percentile(samples, 95).toFixed(1)} ms | p99 ${percentile(samples, 99).toFixed(1)} ms | max ${(samples.at(-1) ?? NaN).toFixed(1)} ms |`);
  for (const close of sockets) close();
  await Promise.all(replicas.map((r) => r.close()));
}

async function webhookThroughput(bus: () => Promise<Bus>): Promise<void> {
  let received = 0;
  let first = 0;
  let last = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      last = performance.now();
      if (received++ === 0) first = last;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const address = receiver.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
  await new Promise((r) => redis.once('ready', r));
  const store = new RedisWebhookStore(redis);
  const sellerId = `slr_bench${randomBytes(3).toString('hex')}`;
  await store.putSubscription({ id: `wh_bench${randomBytes(4).toString('hex')}`, seller_id: sellerId, url, event_types: [ROUTING.statusChanged], description: null, created_at: new Date().toISOString(), secrets: [{ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', expires_at: null }] });
  const consumerBus = await bus();
  const webhooks = await startWebhooks({ bus: consumerBus, store, policy: { requireHttps: false, allowLoopback: true } });
  const publisher = await bus();
  const started = performance.now();
  await Promise.all(Array.from({ length: WEBHOOKS }, (_, n) => publisher.publish('events', ROUTING.statusChanged, statusEvent(sellerId, n))));
  for (let i = 0; i < 1200 && received < WEBHOOKS; i++) await sleep(50);
  const seconds = (last - started) / 1000;
  console.log(`| webhook deliveries to a local receiver, ${WEBHOOKS} events, 1 subscription | delivered ${received}/${WEBHOOKS} | ${(received / seconds).toFixed(0)} deliveries/s (publish → last delivery ${seconds.toFixed(2)} s; first delivery after ${((first - started) / 1000).toFixed(2)} s) |`);
  await webhooks.close();
  redis.disconnect();
  await new Promise((r) => receiver.close(r));
}

async function main(): Promise<void> {
  const prefix = `facet-bench-${randomBytes(4).toString('hex')}`;
  const buses: Bus[] = [];
  const bus = async () => {
    const b = createBus({ url: AMQP_URL, prefix });
    await waitForConnection(b, 10_000);
    buses.push(b);
    return b;
  };
  await sseLatency(bus);
  await webhookThroughput(bus);
  // Remove the benchmark's queues and exchanges.
  const { RabbitSideDoor } = await import('../../test/bus/helpers.ts');
  const topologies = buses.map((b) => (b as RabbitBus).topology);
  const door = await RabbitSideDoor.open(topologies[0] as RabbitBus['topology']);
  const first = new Set(topologies[0]?.declared().queues);
  const firstExchanges = new Set(topologies[0]?.declared().exchanges);
  const ch = await door.channel();
  for (const exchange of new Set(topologies.flatMap((t) => t.declared().exchanges))) if (!firstExchanges.has(exchange)) await ch.deleteExchange(exchange);
  await ch.close();
  await door.cleanup([...new Set(topologies.flatMap((t) => t.declared().queues))].filter((q) => !first.has(q)));
  await Promise.all(buses.map((b) => b.close()));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
