import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateDataset } from '../../sim/data/seed.ts';
import type { Order } from '../../contracts/orders.ts';
import { computePrice, pricingSeconds, startMesSim } from '../../sim/index.ts';
import type { DashboardOrder, ManufacturingJob, MesEvent, MesSimHandle, PriceJob } from '../../sim/index.ts';
import { binaryStl, http, waitFor } from './helpers.ts';

const FAST = { latency: { baseMs: 0, jitterMs: 0 }, dashboardLatency: { baseMs: 0, perOrderMs: 0 } };
const PARAMS = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' } as const;
const dataset = generateDataset(11, 3, 400);
/** A seed order with a small model (quick to price). */
const small = dataset.orders.reduce((a, b) => (b.model.polygons < a.model.polygons ? b : a));

describe('MES price jobs', () => {
  let mes: MesSimHandle;
  const events: MesEvent[] = [];
  before(async () => {
    // 120 simulated seconds take 12 ms at this scale.
    mes = await startMesSim({ seed: 11, sellerCount: 3, orderCount: 400, ...FAST, timeScale: 10_000 });
    mes.events.on('event', (event: MesEvent) => events.push(event));
  });
  after(() => mes.close());

  const waitReady = (id: string) =>
    waitFor(async () => {
      const res = await http<PriceJob>(`${mes.url}/mes/price-jobs/${id}`);
      return res.body.status === 'pending' ? undefined : res.body;
    });

  it('prices a seed model on simulated time, deterministically', async () => {
    const submitted = await http<PriceJob>(`${mes.url}/mes/price-jobs`, {
      body: { model_id: small.model.id, parameters: PARAMS, order_id: small.id },
    });
    assert.equal(submitted.status, 202);
    assert.match(submitted.body.id, /^pj_/);
    assert.equal(submitted.body.status, 'pending');
    assert.deepEqual(submitted.body.parameters, PARAMS);
    const simulated = pricingSeconds(small.model.polygons);
    assert.ok(simulated >= 120 && simulated <= 1800);
    assert.equal(submitted.body.estimated_seconds, Math.round((simulated * 1000) / 10_000) / 1000);

    const done = await waitReady(submitted.body.id);
    assert.equal(done.status, 'ready');
    assert.deepEqual(done.price, computePrice(PARAMS, small.model.polygons));
    assert.ok(Number.isInteger(done.price?.amount_minor) && (done.price?.amount_minor ?? 0) > 0);

    // Same inputs, same price.
    const again = await http<PriceJob>(`${mes.url}/mes/price-jobs`, { body: { model_id: small.model.id, parameters: PARAMS } });
    assert.notEqual(again.body.id, submitted.body.id);
    assert.deepEqual((await waitReady(again.body.id)).price, done.price);

    const event = events.find((e) => e.type === 'PriceJobCompleted' && e.job_id === submitted.body.id);
    assert.ok(event && event.type === 'PriceJobCompleted');
    assert.equal(event.order_id, small.id);
    assert.deepEqual(event.price, done.price);
    assert.ok(!Number.isNaN(Date.parse(event.at)));
  });

  it('prices an uploaded model; bigger and heavier costs more', async () => {
    const res = await fetch(`${mes.url}/mes/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: binaryStl(50),
    });
    const model = (await res.json()) as { id: string };
    const big = { material: 'platinum_950', size_mm: 40, finish: 'hammered' } as const;
    const [a, b] = await Promise.all(
      [PARAMS, big].map((parameters) => http<PriceJob>(`${mes.url}/mes/price-jobs`, { body: { model_id: model.id, parameters } })),
    );
    const [pa, pb] = await Promise.all([waitReady(a!.body.id), waitReady(b!.body.id)]);
    assert.ok((pb.price?.amount_minor ?? 0) > (pa.price?.amount_minor ?? 0));
  });

  it('rejects unknown models and bad parameters', async () => {
    const unknown = await http(`${mes.url}/mes/price-jobs`, { body: { model_id: 'mdl_nothere', parameters: PARAMS } });
    assert.equal(unknown.status, 404);
    const bad = [
      { ...PARAMS, material: 'unobtainium' },
      { ...PARAMS, size_mm: 0 },
      { ...PARAMS, size_mm: 201 },
      { ...PARAMS, finish: 'sparkly' },
      { material: PARAMS.material },
    ];
    for (const parameters of bad) {
      const res = await http<{ field?: string }>(`${mes.url}/mes/price-jobs`, { body: { model_id: small.model.id, parameters } });
      assert.equal(res.status, 400, JSON.stringify(parameters));
      assert.match(res.body.field ?? '', /^parameters/);
    }
    assert.equal((await http(`${mes.url}/mes/price-jobs/pj_nothere`)).status, 404);
  });

  it('fails jobs at MES_PRICE_FAIL_RATE', async () => {
    const failing = await startMesSim({ orderCount: 50, sellerCount: 2, ...FAST, timeScale: 10_000, priceFailRate: 1 });
    try {
      const seen: MesEvent[] = [];
      failing.events.on('PriceJobFailed', (e: MesEvent) => seen.push(e));
      const order = generateDataset(42, 2, 50).orders[0]!;
      const job = await http<PriceJob>(`${failing.url}/mes/price-jobs`, { body: { model_id: order.model.id, parameters: PARAMS } });
      const done = await waitFor(async () => {
        const res = await http<PriceJob>(`${failing.url}/mes/price-jobs/${job.body.id}`);
        return res.body.status === 'pending' ? undefined : res.body;
      }, 10_000);
      assert.equal(done.status, 'failed');
      assert.equal(typeof done.error, 'string');
      assert.equal(seen.length, 1);
    } finally {
      await failing.close();
    }
  });
});

describe('MES manufacturing and operators', () => {
  let mes: MesSimHandle;
  let slow: MesSimHandle;
  const order: Order = dataset.orders.find((o) => o.operator_id === null)!;
  const work = (orderId: string) => ({ order_id: orderId, model_id: small.model.id, parameters: PARAMS });

  before(async () => {
    const common = { seed: 11, sellerCount: 3, orderCount: 400, ...FAST };
    // 6 simulated hours take 216 ms here.
    mes = await startMesSim({ ...common, timeScale: 100_000, cancelWindowSeconds: 0 });
    // Nothing moves here during the test.
    slow = await startMesSim({ ...common, capacity: 2, cancelWindowSeconds: 3600 });
  });
  after(() => Promise.all([mes.close(), slow.close()]));

  it('runs a job through to SHIPPED and shows it on the dashboard', async () => {
    const changes: string[] = [];
    mes.events.on('ManufacturingStatusChanged', (e: MesEvent) => {
      if (e.type === 'ManufacturingStatusChanged' && e.order_id === 'ord_new_1') changes.push(e.status);
    });
    const started = await http<ManufacturingJob>(`${mes.url}/mes/manufacturing`, { body: { ...work('ord_new_1'), seller_id: 'slr_0002' } });
    assert.equal(started.status, 202);
    assert.equal(started.body.status, 'MANUFACTURING_STARTED');
    const top = await http<{ items: DashboardOrder[] }>(`${mes.url}/mes/dashboard/orders?limit=1`);
    assert.equal(top.body.items[0]?.order_id, 'ord_new_1');
    assert.equal(top.body.items[0]?.seller_id, 'slr_0002');

    const shipped = await waitFor(async () => {
      const res = await http<ManufacturingJob>(`${mes.url}/mes/manufacturing/ord_new_1`);
      return res.body.status === 'SHIPPED' ? res.body : undefined;
    });
    assert.deepEqual(shipped.history.map((h) => h.status), ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED']);
    assert.deepEqual(changes, ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED']);
    const row = await http<{ items: DashboardOrder[] }>(`${mes.url}/mes/dashboard/orders?status=SHIPPED&limit=1`);
    assert.equal(row.body.items[0]?.order_id, 'ord_new_1');
    // Too late to cancel (window 0); unknown orders are 404.
    const cancel = await http<{ reason: string }>(`${mes.url}/mes/manufacturing/ord_new_1/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 409);
    assert.equal((await http(`${mes.url}/mes/manufacturing/ord_none/cancel`, { method: 'POST' })).status, 404);
    assert.equal((await http(`${mes.url}/mes/manufacturing/ord_none`)).status, 404);
  });

  it('is idempotent by order id and refuses work beyond capacity', async () => {
    const a = await http<ManufacturingJob>(`${slow.url}/mes/manufacturing`, { body: work('ord_cap_a') });
    const b = await http<ManufacturingJob>(`${slow.url}/mes/manufacturing`, { body: work('ord_cap_b') });
    assert.deepEqual([a.status, b.status], [202, 202]);
    const again = await http<ManufacturingJob>(`${slow.url}/mes/manufacturing`, { body: work('ord_cap_a') });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, a.body);
    const full = await http(`${slow.url}/mes/manufacturing`, { body: work('ord_cap_c') });
    assert.deepEqual([full.status, full.body], [409, { error: 'no capacity', reason: 'capacity' }]);
    // Cancelling inside the window frees a slot.
    const cancelled = await http<ManufacturingJob>(`${slow.url}/mes/manufacturing/ord_cap_b/cancel`, { method: 'POST' });
    assert.deepEqual([cancelled.status, cancelled.body.status], [200, 'CANCELLED']);
    const c = await http(`${slow.url}/mes/manufacturing`, { body: work('ord_cap_c') });
    assert.equal(c.status, 202);
    const bad = await http(`${slow.url}/mes/manufacturing`, { body: { order_id: 'ord_x', model_id: 'mdl_nothere', parameters: PARAMS } });
    assert.equal(bad.status, 404);
  });

  it('lets the first operator take an order', async () => {
    const first = await http<DashboardOrder>(`${mes.url}/mes/orders/${order.id}/take`, { body: { operator_id: 'op_1' } });
    assert.deepEqual([first.status, first.body.operator_id], [200, 'op_1']);
    const same = await http(`${mes.url}/mes/orders/${order.id}/take`, { body: { operator_id: 'op_1' } });
    assert.equal(same.status, 200);
    const other = await http<{ operator_id: string }>(`${mes.url}/mes/orders/${order.id}/take`, { body: { operator_id: 'op_2' } });
    assert.deepEqual([other.status, other.body.operator_id], [409, 'op_1']);
    assert.equal((await http(`${mes.url}/mes/orders/ord_none/take`, { body: { operator_id: 'op_1' } })).status, 404);
    assert.equal((await http(`${mes.url}/mes/orders/${order.id}/take`, { body: {} })).status, 400);
  });
});
