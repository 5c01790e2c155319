// A broker restart (`rabbitmqctl stop_app` / `start_app`) under a live bus:
// publishes fail fast while it is down, the connection manager reconnects,
// consumers resume, and messages confirmed before the restart are still there
// (quorum queues are durable).
//
// It restarts the shared local broker: run bus test files one at a time
// (`--test-concurrency=1`, as `npm run test:unit` does), and set
// FACET_TEST_BROKER_RESTART=0 to skip it while others use the broker.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBus, isBusUnavailable, waitForConnection, type RabbitBus } from '../../platform/bus/index.ts';
import type { BusState } from '../../platform/bus/types.ts';
import { AMQP_URL, RabbitSideDoor, run, testLogger, uniqueName, uniquePrefix, waitFor } from './helpers.ts';

const msg = (id: string) => ({ id, type: 'test.message', body: { id } });
const skip = process.env.FACET_TEST_BROKER_RESTART === '0' ? 'FACET_TEST_BROKER_RESTART=0' : false;

describe('RabbitMQ bus: broker restart', { skip }, () => {
  it('reconnects, restores consumers, and keeps confirmed messages', { timeout: 40_000 }, async () => {
    const bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), reconnectMaxDelayMs: 1_000, logger: testLogger }) as RabbitBus;
    await waitForConnection(bus, 5_000);
    const states: BusState[] = [];
    bus.onStateChange((s) => states.push(s));
    const liveQueue = uniqueName('live');
    const storedQueue = uniqueName('stored');
    const live: string[] = [];
    await bus.consume({ queue: liveQueue, bindings: [{ exchange: 'events', pattern: 'rs.live' }] }, async (d) => (live.push(d.message.id), 'ack'));
    const storedSpec = { queue: storedQueue, bindings: [{ exchange: 'commands' as const, pattern: 'rs.stored' }] };
    await (await bus.consume(storedSpec, async () => 'ack')).cancel(); // declared, nobody consuming
    await bus.publish('events', 'rs.live', msg('before'));
    await waitFor(() => live.includes('before'));
    for (const id of ['s-1', 's-2', 's-3']) await bus.publish('commands', 'rs.stored', msg(id));

    let stopped = false;
    try {
      await run('rabbitmqctl', ['stop_app']);
      stopped = true;
      await waitFor(() => !bus.connected, 5_000, 'disconnect noticed');
      const started = Date.now();
      await assert.rejects(bus.publish('events', 'rs.live', msg('during')), (err) => isBusUnavailable(err));
      assert.ok(Date.now() - started < 100, 'fails fast while the broker is down');
    } finally {
      await run('rabbitmqctl', ['start_app']);
      if (stopped) await run('rabbitmqctl', ['await_startup', '--timeout', '30']);
    }

    await waitForConnection(bus, 15_000);
    await waitFor(() => bus.publish('events', 'rs.live', msg('after')).then(() => true, () => false), 10_000, 'publish after restart');
    await waitFor(() => live.includes('after'), 10_000, 'restored consumer got a message published after the restart');

    const stored: string[] = [];
    await bus.consume(storedSpec, async (d) => (stored.push(d.message.id), 'ack'));
    await waitFor(() => stored.length === 3, 10_000, 'messages confirmed before the restart');
    assert.deepEqual(stored.sort(), ['s-1', 's-2', 's-3']);
    assert.deepEqual(states, ['disconnected', 'connected']);

    await bus.close();
    const door = await RabbitSideDoor.open(bus.topology);
    await door.cleanup();
  });
});
