// The MES simulator's legacy events on the bus (sim/mes/bus-bridge.ts), its
// outbox when the bus refuses, price jobs idempotent per order id, and the
// CRM status change carrying a price.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBus, waitForConnection, type Bus, type BusMessage, type RabbitBus } from '../../platform/bus/index.ts';
import { BusUnavailableError } from '../../platform/bus/errors.ts';
import { MesEvents, startCrmSim, startMesSim, type MesEvent, type MesSimHandle } from '../../sim/index.ts';
import { MesBusBridge } from '../../sim/mes/bus-bridge.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { RabbitSideDoor, uniquePrefix } from '../bus/helpers.ts';
import { AMQP_URL, FAST_LATENCY, FAST_MES, smallOrders, testLogger, waitFor } from './helpers.ts';

const dataset = generateDataset(7, 3, 300);
const order = smallOrders(dataset, 1)[0]!;
const PARAMS = order.parameters;

async function post(url: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of ['memory', 'rabbit'] as const) {
  describe(`MES legacy events on the ${kind} bus`, () => {
    let bus: Bus;
    let mes: MesSimHandle;
    const seen: BusMessage[] = [];
    const routingKeys: string[] = [];
    before(async () => {
      bus = kind === 'memory' ? createBus({}) : createBus({ url: AMQP_URL, prefix: uniquePrefix(), logger: testLogger });
      await waitForConnection(bus, 10_000);
      await bus.consume({ queue: 'test.legacy', bindings: [{ exchange: 'events', pattern: 'mes.legacy.*' }] }, async ({ message, routingKey }) => {
        seen.push(message);
        routingKeys.push(routingKey);
        return 'ack';
      });
      mes = await startMesSim({ dataset, ...FAST_MES, bus });
    });
    after(async () => {
      await mes.close();
      await bus.close();
      if (kind === 'rabbit') await (await RabbitSideDoor.open((bus as RabbitBus).topology)).cleanup();
    });

    it('publishes every MES event as mes.legacy.<EventType> with the MES payload and a deterministic id', async () => {
      const orderId = `ord_bridge_${kind}`;
      const job = await post(`${mes.url}/mes/price-jobs`, { model_id: order.model.id, parameters: PARAMS, order_id: orderId });
      assert.equal(job.status, 202);
      await post(`${mes.url}/mes/manufacturing`, { order_id: orderId, model_id: order.model.id, parameters: PARAMS });
      await waitFor(() => seen.filter((m) => (m.body as MesEvent).order_id === orderId).length === 5, 5_000, 'five events');
      const mine = seen.filter((m) => (m.body as MesEvent).order_id === orderId);
      const completed = mine.find((m) => m.type === 'mes.legacy.PriceJobCompleted');
      assert.equal(completed?.id, `mes:PriceJobCompleted:${job.body.id as string}`);
      assert.equal((completed?.body as MesEvent).type, 'PriceJobCompleted');
      assert.deepEqual(
        mine.filter((m) => m.type === 'mes.legacy.ManufacturingStatusChanged').map((m) => m.id).sort(),
        ['MANUFACTURING_COMPLETED', 'MANUFACTURING_STARTED', 'PACKAGING', 'SHIPPED'].map((s) => `mes:ManufacturingStatusChanged:${orderId}:${s}`),
      );
      assert.ok(routingKeys.every((k) => /^mes\.legacy\.(PriceJobCompleted|PriceJobFailed|ManufacturingStatusChanged)$/.test(k)));
      assert.equal(mes.bridge?.stats().pending, 0);
    });
  });
}

describe('MES outbox', () => {
  it('keeps events while the bus refuses them and publishes them once it accepts', async () => {
    const events = new MesEvents();
    let down = true;
    const delivered: BusMessage[] = [];
    const bus = {
      kind: 'memory',
      connected: true,
      async publish(_exchange: string, _key: string, message: BusMessage) {
        if (down) throw new BusUnavailableError('broker restarting');
        delivered.push(message);
      },
    } as unknown as Bus;
    const bridge = new MesBusBridge({ bus, events, minDelayMs: 5, maxDelayMs: 20 });
    for (let i = 0; i < 20; i++) {
      events.publish({ type: 'ManufacturingStatusChanged', order_id: `ord_${i}`, model_id: 'mdl_x', status: 'MANUFACTURING_STARTED', previous_status: null, at: new Date().toISOString() });
    }
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(delivered.length, 0);
    assert.equal(bridge.stats().pending, 20);
    assert.ok(bridge.stats().failedAttempts >= 2, 'retried with backoff');
    down = false;
    assert.equal(await bridge.drain(2_000), true);
    assert.deepEqual(delivered.map((m) => m.id).sort(), Array.from({ length: 20 }, (_, i) => `mes:ManufacturingStatusChanged:ord_${i}:MANUFACTURING_STARTED`).sort());
    await bridge.close();
  });

  it('waits for the MES adapter queue to exist (unroutable until then) and drops the oldest past its limit', async () => {
    const bus = createBus({});
    const events = new MesEvents();
    const bridge = new MesBusBridge({ bus, events, minDelayMs: 5, maxDelayMs: 10, maxOutbox: 5 });
    for (let i = 0; i < 7; i++) {
      events.publish({ type: 'PriceJobFailed', job_id: `pj_${i}`, model_id: 'mdl_x', order_id: null, parameters: PARAMS, error: 'x', at: new Date().toISOString() });
    }
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(bridge.stats().dropped, 2);
    const got: string[] = [];
    await bus.consume({ queue: 'late', bindings: [{ exchange: 'events', pattern: 'mes.legacy.*' }] }, async ({ message }) => (got.push(message.id), 'ack'));
    await waitFor(() => got.length === 5, 2_000, 'outbox drained');
    assert.deepEqual(got.sort(), [2, 3, 4, 5, 6].map((i) => `mes:PriceJobFailed:pj_${i}`));
    await bridge.close();
    await bus.close();
  });
});

describe('simulator additions for the saga', () => {
  it('MES: a price job is idempotent per order id while pending or ready; a failed one can be replaced; jobs are listed per order', async () => {
    const mes = await startMesSim({ dataset, ...FAST_MES, latency: FAST_LATENCY });
    const failing = await startMesSim({ dataset, ...FAST_MES, priceFailRate: 1 });
    try {
      const body = { model_id: order.model.id, parameters: PARAMS, order_id: 'ord_idem' };
      const first = await post(`${mes.url}/mes/price-jobs`, body);
      const again = await post(`${mes.url}/mes/price-jobs`, body);
      assert.deepEqual([first.status, again.status], [202, 200]);
      assert.equal(again.body.id, first.body.id);
      await waitFor(() => mes.store.prices.get(first.body.id as string)?.status === 'ready', 3_000);
      const ready = await post(`${mes.url}/mes/price-jobs`, body);
      assert.deepEqual([ready.status, ready.body.id, ready.body.status], [200, first.body.id, 'ready']);

      const failed = await post(`${failing.url}/mes/price-jobs`, body);
      await waitFor(() => failing.store.prices.get(failed.body.id as string)?.status === 'failed', 3_000);
      const replaced = await post(`${failing.url}/mes/price-jobs`, body);
      assert.equal(replaced.status, 202);
      assert.notEqual(replaced.body.id, failed.body.id);
      const list = (await (await fetch(`${failing.url}/mes/price-jobs?order_id=ord_idem`)).json()) as { items: { id: string }[] };
      assert.deepEqual(list.items.map((j) => j.id), [failed.body.id, replaced.body.id]);
      assert.equal((await fetch(`${failing.url}/mes/price-jobs`)).status, 400);
    } finally {
      await mes.close();
      await failing.close();
    }
  });

  it('CRM: a status change may carry the price', async () => {
    const crm = await startCrmSim({ dataset: generateDataset(7, 3, 300), latency: FAST_LATENCY });
    try {
      const seed = crm.store.listOrders({ limit: 1 }).items[0]!;
      const price = { amount_minor: 4242, currency: 'EUR' };
      const res = await post(`${crm.url}/crm/orders/${seed.id}/status`, { status: 'PRICE_CALCULATED', price });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.price, price);
      assert.equal((await post(`${crm.url}/crm/orders/${seed.id}/status`, { status: 'PRICE_CALCULATED', price: { amount_minor: -1, currency: 'EUR' } })).status, 400);
    } finally {
      await crm.close();
    }
  });
});
