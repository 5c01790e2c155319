// The gateway's view of the CRM and MES contracts (contracts/upstream-answers.ts):
// the simulators' real answers keep them, wrong answers are refused with a
// detail that quotes nothing of the answer, extra fields are allowed but
// never forwarded, the vocabularies agree with the public specs, and a call
// through UpstreamClient turns a violation into a 502 that the breaker counts
// and the error handler logs at warn with the validation errors.
//
//   npx node --import tsx --test test/unit/upstream-contract.test.ts

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import type { ServiceEndpointConfig } from '../../platform/upstream/settings.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { installProblemHandlers } from '../../platform/errors/problem.ts';
import { toPublicOrder } from '../../gateway/operations/orders.ts';
import { createMetrics } from '../../platform/metrics/registry.ts';
import { UpstreamClient } from '../../platform/upstream/client.ts';
import { CrmClient } from '../../adapters/crm/client.ts';
import { MesClient } from '../../adapters/mes/client.ts';
import { UpstreamContractError, type UpstreamOperation } from '../../platform/upstream/contract.ts';
import { CRM, MES, RELAYED } from '../../platform/upstream/operations.ts';
import { FINISHES, MATERIALS, MODEL_FORMATS, ORDER_STATUSES } from '../../contracts/orders.ts';
import { startCrmSim, startMesSim, type CrmSimHandle, type MesSimHandle } from '../../sim/index.ts';
import { binaryStl } from '../helpers/models.ts';
import { specs, type Json } from '../security/contract.ts';

const FAST = { latency: { baseMs: 0, jitterMs: 0 }, logger: false as const };
const SECRET = 'UPSTREAM-SECRET-90d1';

/** The error `check` throws, or a failure when it accepts the answer. */
function refusal(op: UpstreamOperation<unknown>, body: unknown, status = 200): UpstreamContractError {
  try {
    op.check('crm', status, body);
  } catch (error) {
    assert.ok(error instanceof UpstreamContractError, String(error));
    return error;
  }
  assert.fail(`${op.name} accepted ${JSON.stringify(body).slice(0, 200)}`);
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

describe('upstream contracts: the simulators keep them', () => {
  let crm: CrmSimHandle;
  let mes: MesSimHandle;
  let failing: MesSimHandle;
  before(async () => {
    [crm, mes, failing] = await Promise.all([
      startCrmSim({ ...FAST, orderCount: 400, sellerCount: 4 }),
      // A long cancel window (simulated hours), so the saga's cancel below is answered 200 however slow the machine.
      startMesSim({ ...FAST, orderCount: 400, sellerCount: 4, dashboardLatency: { baseMs: 0, perOrderMs: 0 }, timeScale: 3600, cancelWindowSeconds: 100 * 3600 }),
      startMesSim({ ...FAST, orderCount: 10, sellerCount: 1, priceFailRate: 1, timeScale: 3600 }),
    ]);
  });
  after(() => Promise.all([crm?.close(), mes?.close(), failing?.close()]));

  /** Asserts the answer keeps `op`'s contract, and returns it. */
  function kept<T>(op: UpstreamOperation<T>, answer: { status: number; body: unknown }): T {
    assert.ok(answer.status >= 200 && answer.status < 300, `${op.name}: ${answer.status}`);
    return op.check('sim', answer.status, answer.body);
  }

  it('CRM: order pages, an order, an order with a status history', async () => {
    const page = kept(CRM.listOrders, await json(`${crm.url}/crm/orders?seller_id=slr_0002&limit=100`));
    assert.ok(page.items.length > 0);
    kept(CRM.listOrders, await json(`${crm.url}/crm/orders?seller_id=nobody`)); // an empty page
    const id = page.items[0]?.id ?? '';
    kept(CRM.getOrder, await json(`${crm.url}/crm/orders/${id}`));
    const changed = await json(`${crm.url}/crm/orders/${id}/status`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'REJECTED', reason: 'mes_capacity' }) });
    assert.equal(kept(CRM.getOrder, changed).history?.at(-1)?.reason, 'mes_capacity');
  });

  it('CRM, the saga’s writes: an order created (201), created again (200), its status changed', async () => {
    const [template] = kept(CRM.listOrders, await json(`${crm.url}/crm/orders?seller_id=slr_0002&limit=1`)).items;
    assert.ok(template);
    const { customer, model, parameters, shipping, seller_id } = template;
    const order = { id: 'ord_contractsaga1', seller_id, customer, model, parameters, shipping, price: null, status: 'SUBMITTED' };
    const post = (path: string, body: object) => json(`${crm.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await post('/crm/orders', order);
    assert.equal(created.status, 201);
    assert.deepEqual(kept(CRM.createOrder, created), { ...created.body as object, id: order.id, status: 'SUBMITTED' });
    const again = await post('/crm/orders', order);
    assert.equal(again.status, 200);
    kept(CRM.createOrder, again);
    const priced = await post(`/crm/orders/${order.id}/status`, { status: 'PRICE_CALCULATED', price: { amount_minor: 12_300, currency: 'EUR' } });
    assert.equal(kept(CRM.setStatus, priced).status, 'PRICE_CALCULATED');
  });

  it('MES, the saga’s work: an order’s price jobs, manufacturing started (202), known (200), cancelled', async () => {
    const model = kept(
      MES.uploadModel,
      await json(`${mes.url}/mes/models`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-filename': 'band.stl' }, body: new Uint8Array(binaryStl(100)) }),
    );
    const work = { model_id: model.id, parameters: { material: 'gold_18k_white', size_mm: 20, finish: 'polished' }, order_id: 'ord_contractsaga2', seller_id: 'slr_0002' };
    const post = (path: string, body?: object) => json(`${mes.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    assert.deepEqual(kept(MES.priceJobsOfOrder, await json(`${mes.url}/mes/price-jobs?order_id=${work.order_id}`)).items, [], 'none yet');
    kept(MES.submitPriceJob, await post('/mes/price-jobs', work));
    assert.equal(kept(MES.priceJobsOfOrder, await json(`${mes.url}/mes/price-jobs?order_id=${work.order_id}`)).items.length, 1);
    const started = await post('/mes/manufacturing', work);
    assert.equal(started.status, 202);
    assert.equal(kept(MES.startManufacturing, started).order_id, work.order_id);
    const known = await post('/mes/manufacturing', work);
    assert.equal(known.status, 200);
    kept(MES.startManufacturing, known);
    assert.equal(kept(MES.cancelManufacturing, await post(`/mes/manufacturing/${work.order_id}/cancel`)).status, 'CANCELLED');
  });

  it('MES: dashboard page, catalogue, model upload, price jobs (new, known, pending, ready, failed)', async () => {
    kept(MES.dashboardOrders, await json(`${mes.url}/mes/dashboard/orders?limit=200`));
    kept(MES.materials, await json(`${mes.url}/mes/materials`));
    const upload = async (sim: MesSimHandle) =>
      kept(MES.uploadModel, await json(`${sim.url}/mes/models`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-filename': 'ring.stl' }, body: new Uint8Array(binaryStl(200)) }));
    const model = await upload(mes);
    const work = { model_id: model.id, parameters: { material: 'silver_925', size_mm: 18, finish: 'matte' }, order_id: 'ord_contract0001', seller_id: 'slr_0001' };
    const submit = (sim: MesSimHandle, body: object) => json(`${sim.url}/mes/price-jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await submit(mes, work);
    assert.equal(created.status, 202);
    const job = kept(MES.submitPriceJob, created);
    const known = await submit(mes, work);
    assert.equal(known.status, 200);
    kept(MES.submitPriceJob, known);
    const states = new Set<string>();
    for (let i = 0; i < 200 && !states.has('ready'); i++, await sleep(10)) states.add(kept(MES.getPriceJob, await json(`${mes.url}/mes/price-jobs/${job.id}`)).status);
    assert.ok(states.has('ready'), [...states].join());
    const failedModel = await upload(failing);
    const doomed = kept(MES.submitPriceJob, await submit(failing, { model_id: failedModel.id, parameters: work.parameters }));
    let last = '';
    for (let i = 0; i < 200 && last !== 'failed'; i++, await sleep(10)) last = kept(MES.getPriceJob, await json(`${failing.url}/mes/price-jobs/${doomed.id}`)).status;
    assert.equal(last, 'failed');
  });
});

describe('upstream contracts: wrong answers are refused', () => {
  const order = {
    id: 'ord_aaaaaaaaaaaa',
    seller_id: 'slr_0002',
    status: 'SUBMITTED',
    created_at: '2026-11-01T10:00:00.000Z',
    updated_at: '2026-11-01T10:00:00.000Z',
    customer: { name: 'Ada', email: 'ada@example.com' },
    model: { id: 'mdl_aaaaaaaaaaaa', filename: 'ring.stl', format: 'stl', sha256: 'a'.repeat(64), polygons: 10 },
    parameters: { material: 'silver_925', size_mm: 18, finish: 'matte' },
    price: null,
    shipping: { name: 'Ada', line1: '1 Main St', city: 'Paris', postal_code: '75001', country: 'FR' },
    operator_id: null,
  };
  const clone = () => structuredClone(order) as Json & typeof order;

  it('a valid order passes, untouched', () => {
    const body = clone();
    assert.equal(CRM.getOrder.check('crm', 200, body), body);
    assert.deepEqual(body, order);
  });

  const wrong: [string, (o: Json & typeof order) => unknown, RegExp][] = [
    ['not an object', () => [SECRET], /^\/ must be object$/],
    [
      'a missing field',
      (o) => {
        const { customer: _customer, ...rest } = o;
        return rest;
      },
      /^\/ must have required property 'customer'$/,
    ],
    ['seller_id of another type', (o) => ({ ...o, seller_id: 2 }), /^\/seller_id must be string$/],
    ['a status outside the vocabulary', (o) => ({ ...o, status: SECRET }), /^\/status must be equal to one of the allowed values$/],
    ['a time that is not a date-time', (o) => ({ ...o, created_at: `yesterday ${SECRET}` }), /^\/created_at must match format "date-time"$/],
    ['a nested field of the wrong type', (o) => ({ ...o, model: { ...o.model, polygons: '10' } }), /^\/model\/polygons must be integer$/],
    ['a price in another currency', (o) => ({ ...o, price: { amount_minor: 5, currency: 'USD' } }), /^\/price /],
    ['a history reason that is not text', (o) => ({ ...o, history: [{ status: 'REJECTED', reason: 42 }] }), /^\/history\/0\/reason must be string,null$/],
  ];
  for (const [label, mutate, problem] of wrong) {
    it(`an order with ${label} is refused; the detail names the upstream and quotes nothing`, () => {
      const error = refusal(CRM.getOrder, mutate(clone()));
      assert.equal(error.detail, 'crm sent an order that does not match its contract');
      assert.equal(error.operation, 'GET /crm/orders/{id}');
      assert.match(error.problems[0] ?? '', problem);
      assert.doesNotMatch(error.detail, new RegExp(SECRET));
    });
  }

  it('pages: items must be a list of orders, next_cursor text or null', () => {
    CRM.listOrders.check('crm', 200, { items: [clone()], next_cursor: null });
    assert.match(refusal(CRM.listOrders, { items: SECRET, next_cursor: null }).problems[0] ?? '', /^\/items must be array$/);
    assert.match(refusal(CRM.listOrders, { items: [], next_cursor: 7 }).problems[0] ?? '', /^\/next_cursor must be string,null$/);
    assert.match(refusal(CRM.listOrders, { items: [{ id: SECRET }], next_cursor: null }).problems[0] ?? '', /^\/items\/0 must have required property/);
    assert.match(refusal(MES.dashboardOrders, { items: [{ ...clone(), order_id: 'ord_x' }], next_cursor: null }).problems[0] ?? '', /^\/items\/0 must have required property/);
  });

  it('a ready price job must carry its price; a pending one need not', () => {
    MES.getPriceJob.check('mes', 200, { id: 'pj_1', status: 'pending', estimated_seconds: 3 });
    MES.getPriceJob.check('mes', 200, { id: 'pj_1', status: 'ready', price: { amount_minor: 100, currency: 'EUR' } });
    assert.match(refusal(MES.getPriceJob, { id: 'pj_1', status: 'ready' }).problems[0] ?? '', /required property 'price'/);
    assert.match(refusal(MES.getPriceJob, { id: 'pj_1', status: 'ready', price: null }).problems[0] ?? '', /^\/price must be object$/);
    assert.match(refusal(MES.getPriceJob, { id: 'pj_1', status: 'done' }).problems[0] ?? '', /^\/status must be equal to one of the allowed values$/);
  });

  it('only documented 2xx statuses are answers; other statuses are not checked (handlers read only their status)', () => {
    const error = refusal(MES.uploadModel, { id: 'mdl_x' }, 200);
    assert.deepEqual(error.problems, ['status 200 is not documented']);
    assert.equal(error.detail, 'crm answered with a status its contract does not document');
    for (const status of [302, 404, 409, 415]) assert.deepEqual(MES.uploadModel.check('mes', status, { error: SECRET }), { error: SECRET });
  });

  it('extra fields: allowed and left in place for handlers, which build the public shape field by field', () => {
    const body = { ...clone(), operator_id: 'op_7', internal_note: SECRET, history: [{ status: 'REJECTED', at: order.created_at, reason: 'crm_rejected', by: SECRET }] };
    const checked = CRM.getOrder.check('crm', 200, body);
    assert.equal((checked as unknown as Json).internal_note, SECRET);
    const exposed = toPublicOrder({ ...checked, status: 'REJECTED' });
    const publicOrder = (((specs.seller.components as Json).schemas as Json).Order as Json).properties as Json;
    for (const key of Object.keys(exposed)) assert.ok(key in publicOrder, `${key} is not a field of the public Order`);
    assert.doesNotMatch(JSON.stringify(exposed), new RegExp(`${SECRET}|op_7|slr_0002`));
    assert.equal(exposed.status_reason, 'crm_rejected');
  });

  it('extra fields of a relayed answer (the catalogue) are removed at every level', () => {
    const catalogue = {
      materials: [{ id: 'silver_925', name: 'Sterling silver 925', density_g_cm3: 10.4, price_per_gram_minor: 150, cost_minor: 90, supplier: SECRET }],
      finishes: [{ id: 'matte', name: 'Matte', internal: SECRET }],
      size_mm: { min: 1, max: 200, machine: SECRET },
      warehouse: SECRET,
    };
    assert.deepEqual(MES.materials.check('mes', 200, catalogue), {
      materials: [{ id: 'silver_925', name: 'Sterling silver 925', density_g_cm3: 10.4, price_per_gram_minor: 150 }],
      finishes: [{ id: 'matte', name: 'Matte' }],
      size_mm: { min: 1, max: 200 },
    });
    assert.match(refusal(MES.materials, { materials: [{ id: SECRET, name: 'x', density_g_cm3: 1, price_per_gram_minor: 1 }], finishes: [], size_mm: { min: 1, max: 2 } }).problems[0] ?? '', /^\/materials\/0\/id must be equal/);
    assert.equal(RELAYED.get('GET /mes/materials'), MES.materials);
  });

  it('the vocabularies are the public specs’ enums: what passes can be answered', () => {
    const components = (specs.seller.components as Json).schemas as Json;
    const enumOf = (name: string) => (components[name] as { enum: string[] }).enum;
    assert.deepEqual([...ORDER_STATUSES], enumOf('OrderStatus'));
    assert.deepEqual([...MATERIALS], enumOf('Material'));
    assert.deepEqual([...FINISHES], enumOf('Finish'));
    assert.deepEqual([...MODEL_FORMATS], enumOf('ModelFormat'));
  });
});

describe('upstream contracts through UpstreamClient and the error handler', () => {
  let answer = JSON.stringify({ items: SECRET, next_cursor: 7 });
  let calls = 0;
  const upstream = createServer((req, res) => {
    calls++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
  });
  let url = '';
  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  function client(minimumRps = 1_000): { c: UpstreamClient; metrics: ReturnType<typeof createMetrics> } {
    const config: ServiceEndpointConfig = {
      url,
      timeoutMs: 2_000,
      connections: 4,
      healthPath: '/healthz',
      readiness: 'optional',
      resilience: {
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
        breaker: { failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps, halfOpenAfterMs: 60_000 },
        bulkhead: { limit: 4, queue: 4 },
      },
    };
    const metrics = createMetrics();
    return { c: new UpstreamClient('crm', config, metrics), metrics };
  }

  it('a 2xx of the wrong shape → 502 BAD_RESPONSE, one call (not retried), counted as contract_violation, a breaker failure', async () => {
    const { c, metrics } = client(0.2);
    try {
      calls = 0;
      for (let i = 0; i < 2; i++) {
        const error = await c.json({ contract: CRM.listOrders, path: '/crm/orders' }).then(
          () => assert.fail('accepted'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof FacetError);
        assert.equal(error.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
        assert.equal(error.statusCode, 502);
        assert.equal(error.detail, 'crm sent a page of orders that does not match its contract');
      }
      assert.equal(calls, 2);
      const { values } = await metrics.upstreamRequests.get();
      assert.equal(values.find((v) => v.labels.outcome === 'contract_violation')?.value, 2);
      assert.equal(c.resilience.snapshot().breaker, 'open');
    } finally {
      await c.close();
    }
  });

  it('the answer a handler gets has been checked; without a contract (a call that reads no 2xx body, like the MES take) the body comes as it is', async () => {
    const { c } = client();
    try {
      answer = JSON.stringify({ items: [], next_cursor: null, extra: 1 });
      assert.deepEqual((await c.json({ contract: CRM.listOrders, path: '/crm/orders' })).body, { items: [], next_cursor: null, extra: 1 });
      answer = JSON.stringify({ items: SECRET });
      assert.deepEqual((await c.json({ path: '/crm/orders' })).body, { items: SECRET });
      answer = `not json ${SECRET}`;
      const error = await c.json({ path: '/crm/orders' }).catch((e: unknown) => e);
      assert.ok(error instanceof FacetError && error.code === 'FACET_ERR_UPSTREAM_BAD_RESPONSE' && error.detail === 'crm answered with a body that is not JSON');
    } finally {
      await c.close();
    }
  });

  it('the saga’s clients check their answers too: a wrong one throws (the bus retries it, then parks it) instead of being read', async () => {
    const crmClient = new CrmClient(url);
    const mesClient = new MesClient(url);
    const work = { model_id: 'mdl_x', parameters: { material: 'silver_925', size_mm: 18, finish: 'matte' }, order_id: 'ord_x', seller_id: 'slr_0002' } as const;
    const rejected = async (call: Promise<unknown>, detail: string) => {
      const error = await call.then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof FacetError, String(error));
      assert.equal(error.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.equal(error.detail, detail);
    };
    try {
      // Read unchecked, a ready job without its price would look like "not priced yet".
      answer = JSON.stringify({ id: 'pj_1', status: 'ready', order_id: 'ord_x' });
      await rejected(mesClient.submitPriceJob(work), 'mes sent a price job that does not match its contract');
      answer = JSON.stringify({ items: [{ id: 'pj_1', status: 'done' }] });
      await rejected(mesClient.priceJobsFor('ord_x'), 'mes sent a list of price jobs that does not match its contract');
      answer = JSON.stringify({ order_id: 7, status: 'MANUFACTURING_STARTED' });
      await rejected(mesClient.startManufacturing(work), 'mes sent a manufacturing job that does not match its contract');
      answer = JSON.stringify({ id: 'ord_x', status: SECRET });
      await rejected(crmClient.setStatus('ord_x', 'PRICE_CALCULATED'), 'crm sent an order that does not match its contract');
      answer = JSON.stringify({ id: 'ord_x', status: 'SUBMITTED', anything: 'else' });
      const ok = await crmClient.setStatus('ord_x', 'SUBMITTED');
      assert.ok(ok.ok && ok.body.status === 'SUBMITTED', 'a right answer is read');
    } finally {
      await Promise.all([crmClient.close(), mesClient.close()]);
    }
  });

  it('the client gets a problem without the upstream’s words; the log gets a warn line with the validation errors', async () => {
    const { c } = client();
    const lines: Json[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Json);
        done();
      },
    });
    const app = Fastify({ logger: { level: 'warn', stream } });
    installProblemHandlers(app);
    app.get('/v1/orders/:id', async () => (await c.json({ contract: CRM.getOrder, path: '/crm/orders/ord_x' })).body);
    try {
      answer = JSON.stringify({ ...{ id: 'ord_x', seller_id: 'slr_0002' }, status: SECRET });
      const res = await app.inject({ method: 'GET', url: '/v1/orders/ord_x' });
      assert.equal(res.statusCode, 502);
      assert.equal(res.json().code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.equal(res.json().detail, 'crm sent an order that does not match its contract');
      assert.doesNotMatch(res.body, new RegExp(SECRET));
      const warn = lines.find((l) => l.msg === 'upstream problem');
      assert.ok(warn, JSON.stringify(lines));
      assert.equal(warn.level, 40);
      assert.equal(warn.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      const err = warn.err as Json;
      assert.equal(err.type, 'UpstreamContractError');
      assert.equal(err.operation, 'GET /crm/orders/{id}');
      assert.deepEqual(err.problems, ["/ must have required property 'created_at'"]);
    } finally {
      await app.close();
      await c.close();
    }
  });
});
