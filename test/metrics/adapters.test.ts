// The adapters' metrics on RabbitMQ + Redis (unique prefix): an order placed
// through the saga shows publish confirms, handled deliveries, consumer lag,
// status transitions, step durations and a completed outcome; poison is
// dead-lettered and counted; the queue gauge follows a backlog; the ops
// server's /readyz turns 503 with the bus down while /healthz stays 200;
// `node adapters/main.ts` serves all three and exits 0 on SIGTERM.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6379/6 npx node --import tsx --test test/metrics/adapters.test.ts

import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createBus, waitForConnection, type RabbitBus } from '../../platform/bus/index.ts';
import type { OrderStatus } from '../../contracts/messages.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { SAGA_COMMANDS_QUEUE } from '../../adapters/index.ts';
import { startOpsServer } from '../../adapters/ops-server.ts';
import { renderMetrics } from '../../platform/metrics/exposition.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { REDIS_URL, Stack, placeCommand, smallOrders, waitFor } from '../adapters/helpers.ts';
import { startProcess } from '../helpers/processes.ts';
import { OPENMETRICS_ACCEPT, parseSamples, promtoolCheck, promtoolCheckOpenMetrics, sumOf, valueOf, type Sample } from './helpers.ts';

const FULL_LINE: OrderStatus[] = ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED'];

async function scrape(registry: Registry): Promise<Sample[]> {
  return parseSamples(await registry.metrics());
}

describe('adapters metrics on RabbitMQ', () => {
  const registry = new Registry();
  let stack: Stack;
  let door: RabbitSideDoor;

  before(async () => {
    stack = await Stack.start({ kind: 'rabbit', registry });
    door = await RabbitSideDoor.open((stack.bus as RabbitBus).topology);
  });
  after(async () => {
    await stack?.close();
    await door?.cleanup(); // the stack's own clean-up removed the topology; this only disconnects
  });

  it('follows an order through the saga: confirms, deliveries, lag, transitions, steps, completed', async () => {
    const id = stack.newOrderId();
    await stack.place(placeCommand(smallOrders(stack.dataset, 1)[0]!, id));
    await stack.waitCrmStatus(id, 'SHIPPED');
    await waitFor(() => stack.observed(id).length === FULL_LINE.length, 3_000, 'events');
    // The last status is counted right after its publish is confirmed: give the handler its moment.
    const samples = await waitFor(async () => {
      const s = await scrape(registry);
      return valueOf(s, 'facet_saga_outcomes_total', { outcome: 'completed' }) === 1 ? s : undefined;
    }, 3_000, 'saga outcome');

    for (const status of FULL_LINE) assert.equal(valueOf(samples, 'facet_order_status_transitions_total', { to: status }), 1, status);
    assert.equal(valueOf(samples, 'facet_saga_outcomes_total', { outcome: 'compensated' }), 0);
    for (const step of ['crm_created', 'pricing', 'priced', 'approved', 'manufacturing', 'in_production', 'completed']) {
      assert.ok(valueOf(samples, 'facet_saga_step_duration_seconds_count', { step }) >= 1, `step ${step}`);
    }
    // order.place (the test's publish), then quote.ready, mes.manufacturing_changed, order.status_changed and the MES's legacy events.
    assert.ok(valueOf(samples, 'facet_bus_published_total', { exchange: 'commands', outcome: 'confirmed' }) >= 1);
    assert.ok(valueOf(samples, 'facet_bus_published_total', { exchange: 'events', outcome: 'confirmed' }) >= FULL_LINE.length);
    assert.equal(
      valueOf(samples, 'facet_bus_publish_confirm_seconds_count', { exchange: 'events' }),
      sumOf(samples, 'facet_bus_published_total', { exchange: 'events' }) - valueOf(samples, 'facet_bus_published_total', { exchange: 'events', outcome: 'failed' }),
    );
    assert.ok(valueOf(samples, 'facet_bus_publish_confirm_seconds_count', { exchange: 'commands' }) >= 1);
    assert.equal(valueOf(samples, 'facet_bus_handled_total', { queue: SAGA_COMMANDS_QUEUE, outcome: 'ack' }), 1);
    assert.ok(valueOf(samples, 'facet_bus_handled_total', { queue: 'saga.events', outcome: 'ack' }) >= 4); // quote.ready + 3 manufacturing changes at least
    assert.ok(valueOf(samples, 'facet_bus_handled_total', { queue: 'mes.legacy-events', outcome: 'ack' }) >= 4);
    assert.equal(valueOf(samples, 'facet_bus_consumer_lag_seconds_count', { queue: SAGA_COMMANDS_QUEUE }), 1);
    const lag = valueOf(samples, 'facet_bus_consumer_lag_seconds_sum', { queue: SAGA_COMMANDS_QUEUE });
    assert.ok(lag >= 0 && lag < 5, `lag ${lag} s`);
    assert.equal(valueOf(samples, 'facet_bus_redeliveries_total', { queue: SAGA_COMMANDS_QUEUE }), 0);
    // Labels are logical names: no test prefix, no order id.
    const text = await registry.metrics();
    assert.ok(!text.includes((stack.bus as RabbitBus).topology.prefix), 'the topology prefix in a label');
    assert.ok(!text.includes(id), 'an order id in a label');
    await promtoolCheck(text);
    await promtoolCheckOpenMetrics((await renderMetrics(registry, OPENMETRICS_ACCEPT)).body);
  });

  it('counts poison: dead letters by queue, and a failed saga outcome for a body the saga refuses', async () => {
    const before = await scrape(registry);
    const dead = (s: Sample[]) => valueOf(s, 'facet_bus_dead_letters_total', { queue: SAGA_COMMANDS_QUEUE });
    const failed = (s: Sample[]) => valueOf(s, 'facet_saga_outcomes_total', { outcome: 'failed' });
    await door.injectRaw('commands', ROUTING.placeOrder, '{not json', { id: 'poison-1', type: ROUTING.placeOrder });
    await door.injectRaw('commands', ROUTING.placeOrder, JSON.stringify({ order_id: 42 }), { id: 'poison-2', type: ROUTING.placeOrder });
    const after = await waitFor(async () => {
      const s = await scrape(registry);
      return dead(s) === dead(before) + 2 ? s : undefined;
    }, 5_000, 'two dead letters');
    assert.equal(valueOf(after, 'facet_bus_handled_total', { queue: SAGA_COMMANDS_QUEUE, outcome: 'dead' }), 2);
    // Only the JSON one reached the saga's handler; unparseable JSON is parked by the bus before it.
    assert.equal(failed(after), failed(before) + 1);
    const parked = await waitFor(async () => {
      const s = await scrape(registry);
      return valueOf(s, 'facet_bus_queue_messages', { queue: 'dead' }) >= 2 ? s : undefined;
    }, 3_000, 'the parking queue in the gauge');
    assert.ok(valueOf(parked, 'facet_bus_queue_messages', { queue: 'dead' }) >= 2);
    assert.equal((await stack.deadLetters(SAGA_COMMANDS_QUEUE)).length, 2);
  });

  it('shows a backlog in facet_bus_queue_messages and its drain', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const sub = await stack.bus.consume({ queue: 'test.backlog', prefetch: 1, bindings: [{ exchange: 'events', pattern: 'test.backlog' }] }, async () => {
      await held;
      return 'ack';
    });
    try {
      for (let i = 0; i < 5; i++) await stack.bus.publish('events', 'test.backlog', { id: `backlog-${i}`, type: 'test.backlog', body: { i } });
      // One is with the consumer (unacked, not ready); four wait.
      await waitFor(async () => valueOf(await scrape(registry), 'facet_bus_queue_messages', { queue: 'test.backlog' }) === 4, 5_000, 'backlog of 4');
      release();
      await waitFor(async () => valueOf(await scrape(registry), 'facet_bus_queue_messages', { queue: 'test.backlog' }) === 0, 5_000, 'drained');
      await waitFor(async () => valueOf(await scrape(registry), 'facet_bus_handled_total', { queue: 'test.backlog', outcome: 'ack' }) === 5, 5_000, '5 acks');
    } finally {
      release();
      await sub.cancel();
    }
  });
});

describe('adapters ops server', () => {
  it('is ready with the bus connected, 503 once it is gone; /healthz stays 200', async () => {
    const registry = new Registry();
    const bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), logger: testLogger });
    await waitForConnection(bus, 10_000);
    const ops = await startOpsServer({ bus, registry, redis: { status: 'ready' }, port: 0, host: '127.0.0.1' });
    try {
      const ready = await fetch(`${ops.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', checks: { bus: { status: 'up', detail: 'rabbitmq' }, redis: { status: 'up' } } });
      await bus.close(); // the connection is gone
      const down = await fetch(`${ops.url}/readyz`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as { status: string; checks: Record<string, { status: string }> };
      assert.equal(body.status, 'not_ready');
      assert.equal(body.checks.bus?.status, 'down');
      assert.equal(body.checks.redis?.status, 'up');
      assert.equal((await fetch(`${ops.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${ops.url}/nope`)).status, 404);
    } finally {
      await bus.close();
      await ops.close();
    }
  });

  it('is not ready while the broker cannot be reached, nor while Redis is not ready', async () => {
    const bus = createBus({ url: 'amqp://guest:guest@127.0.0.1:1', prefix: uniquePrefix(), logger: testLogger, connectTimeoutMs: 200 });
    const ops = await startOpsServer({ bus, registry: new Registry(), redis: { status: 'reconnecting' }, port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${ops.url}/readyz`);
      assert.equal(res.status, 503);
      assert.deepEqual(await res.json(), {
        status: 'not_ready',
        checks: { bus: { status: 'down', detail: 'rabbitmq not connected' }, redis: { status: 'down', detail: 'reconnecting' } },
      });
      assert.equal((await fetch(`${ops.url}/healthz`)).status, 200);
    } finally {
      await bus.close();
      await ops.close();
    }
  });

  it('runs in `node adapters/main.ts` on ADAPTERS_HTTP_PORT=0, serves /metrics both ways and exits 0 on SIGTERM', async () => {
    const prefix = uniquePrefix();
    const child = await startProcess(
      resolve(import.meta.dirname, '../../adapters/main.ts'),
      { AMQP_URL, AMQP_PREFIX: prefix, REDIS_URL, ADAPTERS_HTTP_PORT: '0', ADAPTERS_HTTP_HOST: '127.0.0.1', CRM_URL: 'http://127.0.0.1:1', MES_URL: 'http://127.0.0.1:1', LOG_LEVEL: 'info' },
      /adapters started/,
      20_000,
    );
    const topology = new (await import('../../platform/bus/topology.ts')).Topology({ prefix });
    try {
      const url = /"url":"(http:\/\/[^"]+)"/.exec(child.stdout())?.[1];
      assert.ok(url, `no ops server url in the log:\n${child.stdout()}`);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      const classic = await fetch(`${url}/metrics`);
      assert.match(classic.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await classic.text();
      assert.match(text, /^# TYPE facet_bus_handled_total counter$/m);
      assert.match(text, /^# TYPE facet_saga_outcomes_total counter$/m);
      assert.match(text, /^facet_bus_queue_messages\{queue="saga.commands"\} 0$/m);
      await promtoolCheck(text);
      const om = await fetch(`${url}/metrics`, { headers: { accept: OPENMETRICS_ACCEPT } });
      assert.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text/);
      await promtoolCheckOpenMetrics(await om.text());
      assert.equal(await child.stop('SIGTERM'), 0);
    } finally {
      await child.stop('SIGKILL');
      // The child declared the saga and MES queues under the prefix: remove them.
      const door = await RabbitSideDoor.open(topology);
      const ch = await door.channel();
      for (const q of ['saga.commands', 'saga.events', 'mes.legacy-events', 'dead']) await ch.deleteQueue(`${prefix}.${q}`).catch(() => undefined);
      for (const e of ['commands', 'events', 'dlx', 'retry.1000ms', 'retry.5000ms', 'retry.30000ms', 'retry.60000ms', 'retry.300000ms']) {
        await ch.deleteExchange(`${prefix}.${e}`).catch(() => undefined);
        await ch.deleteQueue(`${prefix}.${e}`).catch(() => undefined);
      }
      await door.cleanup();
    }
  });
});
