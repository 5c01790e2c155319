// RabbitMQ-only behaviour, against the real broker: fail fast when it is
// unreachable, the declared arguments, crash redelivery and the delivery
// limit, and channels that die under the bus (PITFALLS.md).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBus, isBusUnavailable, waitForConnection, type RabbitBus } from '../../platform/bus/index.ts';
import type { Delivery } from '../../platform/bus/types.ts';
import { AMQP_URL, RabbitSideDoor, captureLogger, run, sleep, testLogger, uniqueName, uniquePrefix, waitFor } from './helpers.ts';

const msg = (id: string) => ({ id, type: 'test.message', body: { id } });

describe('RabbitMQ bus: broker unreachable', () => {
  it('rejects a publish at once with BusUnavailableError', async () => {
    const bus = createBus({ url: 'amqp://guest:guest@127.0.0.1:1', prefix: uniquePrefix(), logger: testLogger });
    try {
      const started = Date.now();
      await assert.rejects(bus.publish('commands', 'order.create', msg('x')), (err) => isBusUnavailable(err));
      assert.ok(Date.now() - started < 1_000);
      assert.equal(bus.connected, false);
    } finally {
      await bus.close();
    }
  });
});

describe('RabbitMQ bus: real broker', () => {
  let bus: RabbitBus;
  let door: RabbitSideDoor;
  const extraQueues: string[] = [];
  const { logger, warnings } = captureLogger();
  before(async () => {
    bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), deliveryLimit: 3, requeueDelayMs: 20, slowHandlerMs: 100, logger }) as RabbitBus;
    await waitForConnection(bus, 5_000);
    door = await RabbitSideDoor.open(bus.topology);
  });
  after(async () => {
    await bus.close();
    await door.cleanup(extraQueues);
  });

  it('declares quorum consumer queues with dead-lettering, delivery limit and overflow arguments', async () => {
    const queue = uniqueName('args');
    await bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'args.x' }], retryDelaysMs: [70] }, async () => 'ack');
    const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', 'type', 'arguments', '--formatter', 'json', '-q']);
    // rabbitmqctl prints arguments as [name, AMQP type, value] triples.
    const rows = JSON.parse(stdout) as { name: string; type: string; arguments: [string, string, unknown][] }[];
    const byName = new Map(rows.map((r) => [r.name, { type: r.type, arguments: Object.fromEntries(r.arguments.map(([k, , v]) => [k, v])) }]));
    const full = bus.topology.queue(queue);
    const consumerQueue = byName.get(full);
    assert.equal(consumerQueue?.type, 'quorum');
    assert.deepEqual(consumerQueue?.arguments, {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': bus.topology.deadExchange,
      'x-dead-letter-routing-key': full,
      'x-delivery-limit': 3,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    const delay = byName.get(bus.topology.delayTarget(70) ?? '');
    assert.equal(delay?.type, 'classic');
    assert.deepEqual(delay?.arguments, { 'x-queue-type': 'classic', 'x-message-ttl': 70, 'x-dead-letter-exchange': '' });
    assert.equal(byName.get(bus.topology.deadQueue)?.type, 'quorum');
  });

  it('redelivers a message whose consumer died before acking (redelivered: true, same id)', async () => {
    const queue = uniqueName('crash');
    const spec = { queue, bindings: [{ exchange: 'commands' as const, pattern: 'crash.x' }] };
    await (await bus.consume(spec, async () => 'ack')).cancel(); // declares the queue, then leaves it
    await bus.publish('commands', 'crash.x', msg('c-1'));
    const ch = await door.channel(); // a consumer that "crashes": takes the message, never acks
    await waitFor(async () => (await ch.get(bus.topology.queue(queue), { noAck: false })) !== false);
    await ch.close();
    const got: Delivery[] = [];
    await bus.consume(spec, async (d) => (got.push(d), 'ack'));
    await waitFor(() => got.length === 1);
    assert.equal(got[0]?.message.id, 'c-1');
    assert.equal(got[0]?.redelivered, true);
    assert.equal(got[0]?.attempt, 1);
  });

  it('dead-letters (at least once) a message that crashes consumers past the delivery limit', async () => {
    const queue = uniqueName('limit');
    await (await bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'limit.x' }] }, async () => 'ack')).cancel();
    await bus.publish('commands', 'limit.x', msg('l-1'));
    let deliveries = 0;
    for (let i = 0; i < 10 && (await door.deadLetters(queue)).length === 0; i++) {
      const ch = await door.channel();
      if ((await ch.get(bus.topology.queue(queue), { noAck: false })) !== false) deliveries++;
      await ch.close();
      await sleep(20);
    }
    await waitFor(async () => (await door.deadLetters(queue)).length === 1, 3_000, 'broker dead letter');
    const [dead] = await door.deadLetters(queue);
    assert.equal(dead?.id, 'l-1');
    assert.equal(dead?.reason, 'broker: delivery_limit');
    assert.equal(dead?.routingKey, 'limit.x');
    assert.ok(deliveries >= 3, `delivered ${deliveries} times before dead-lettering`);
  });

  it('rejects consume() on PRECONDITION_FAILED (queue exists with other arguments) and stays usable', async () => {
    const queue = uniqueName('clash');
    const ch = await door.channel();
    await ch.assertQueue(bus.topology.queue(queue), { durable: true, arguments: { 'x-queue-type': 'classic' } });
    await ch.close();
    extraQueues.push(bus.topology.queue(queue));
    await assert.rejects(bus.consume({ queue, bindings: [{ exchange: 'events', pattern: 'clash.x' }] }, async () => 'ack'), /PRECONDITION_FAILED/);
    const got: string[] = [];
    await bus.consume({ queue: uniqueName('after-clash'), bindings: [{ exchange: 'events', pattern: 'clash.ok' }] }, async (d) => (got.push(d.message.id), 'ack'));
    await bus.publish('events', 'clash.ok', msg('ok-1'));
    await waitFor(() => got.length === 1);
  });

  it('replaces a confirm channel killed by a channel error and re-declares the topology', async () => {
    const queue = uniqueName('dlx-gone');
    const calls: Delivery[] = [];
    await bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'dlxg.x' }] }, async (d) => (calls.push(d), { dead: 'poison' }));
    const ch = await door.channel();
    await ch.deleteExchange(bus.topology.deadExchange); // parking now fails: 404 closes the confirm channel
    await ch.close();
    await bus.publish('commands', 'dlxg.x', msg('p-1'));
    await waitFor(async () => (await door.deadLetters(queue)).length === 1, 5_000, 'parked after recovery');
    assert.ok(calls.length >= 2, 'the message went back to the queue and came again');
    assert.equal(calls.at(-1)?.redelivered, true);
    assert.ok(bus.connected);
  });

  it('re-declares and resumes a consumer whose queue was deleted under it', async () => {
    const queue = uniqueName('deleted');
    const got: string[] = [];
    await bus.consume({ queue, bindings: [{ exchange: 'events', pattern: 'del.x' }] }, async (d) => (got.push(d.message.id), 'ack'));
    const ch = await door.channel();
    await ch.deleteQueue(bus.topology.queue(queue));
    await ch.close();
    await waitFor(
      () => bus.publish('events', 'del.x', msg('after-delete')).then(() => true, () => false),
      5_000,
      'queue re-declared',
    );
    await waitFor(() => got.includes('after-delete'));
  });

  it('cancel() waits for handlers in flight and their acks', async () => {
    const queue = uniqueName('drain');
    let started = 0;
    let finished = 0;
    const spec = { queue, bindings: [{ exchange: 'commands' as const, pattern: 'drain.x' }] };
    const sub = await bus.consume(spec, async () => (started++, await sleep(150), finished++, 'ack'));
    await bus.publish('commands', 'drain.x', msg('d-1'));
    await waitFor(() => started === 1);
    await sub.cancel();
    assert.equal(finished, 1);
    const after = await door.channel();
    const { messageCount } = await after.checkQueue(bus.topology.queue(queue));
    await after.close();
    assert.equal(messageCount, 0, 'acked before the channel closed, not requeued');
  });

  it('warns about a handler holding a delivery long (consumer_timeout would close the channel)', async () => {
    const queue = uniqueName('slow');
    await bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'slow.x' }] }, async () => (await sleep(250), 'ack'));
    const before = warnings.length;
    await bus.publish('commands', 'slow.x', msg('s-1'));
    await waitFor(() => warnings.slice(before).some((w) => /handler is slow/.test(w)), 2_000);
  });
});
