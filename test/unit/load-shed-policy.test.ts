import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify';
import type { GatewayConfig, SheddingSettings } from '../../gateway/config/types.ts';
import { FacetError } from '../../gateway/errors/facet-error.ts';
import { installProblemHandlers } from '../../gateway/errors/problem.ts';
import { createMetrics, type GatewayMetrics } from '../../gateway/metrics/registry.ts';
import { ALWAYS } from '../../gateway/pipeline/conditions.ts';
import type { RouteContribution } from '../../gateway/pipeline/policy.ts';
import { kConsumer, kOperator } from '../../gateway/request-state.ts';
import type { GatewayServices } from '../../gateway/services.ts';
import { EventLoopGuard } from '../../policies/load-shed/event-loop-guard.ts';
import { kShedTicket, loadShedPolicy } from '../../policies/load-shed/index.ts';
import { SheddingService } from '../../policies/load-shed/shedding-service.ts';

const SHEDDING: SheddingSettings = {
  enabled: true,
  classShares: { critical: 1, write: 0.9, 'paid-read': 0.75, 'free-read': 0.5 },
  eventLoopDelayMs: { write: 400, 'paid-read': 200, 'free-read': 100 },
  eventLoopSampleMs: 100,
  retryAfterSec: 2,
  // Limit 4: free reads may fill 2 slots, paid reads 3, writes 3, critical 4.
  adaptive: { initialLimit: 4, minLimit: 1, maxLimit: 100, smoothing: 0.2, rttTolerance: 2 },
};

const CONFIG = {
  pipelines: {
    test: { apiEndpoints: ['test'], policies: [{ 'key-auth': {} }, { 'load-shed': {} }, { proxy: {} }] },
    early: { apiEndpoints: ['test'], policies: [{ 'load-shed': {} }, { 'jwt-auth': {} }, { proxy: {} }] },
  },
  plans: { free: { tier: 'free' }, standard: { tier: 'paid' } },
  serviceEndpoints: { mes: { url: 'http://127.0.0.1:1' } },
  shedding: SHEDDING,
} as unknown as GatewayConfig;

const ROUTE = { pipeline: 'test', apiEndpoint: 'test', method: 'GET', path: '/work' };

/** A handler that holds every request until the test lets them go. */
function holdingPen() {
  let arrived = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    async enter(): Promise<void> {
      arrived++;
      waiters = waiters.filter((w) => (arrived >= w.n ? (w.resolve(), false) : true));
      await gate;
    },
    /** Resolves once `n` requests are inside. */
    reached(n: number): Promise<void> {
      return arrived >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
    },
    release: () => open(),
  };
}

/** Stands in for key-auth / jwt-auth: `x-seller: <plan>` or `x-operator: 1`. */
const fakeAuth: onRequestHookHandler = (request, _reply, done) => {
  const plan = request.headers['x-seller'];
  if (typeof plan === 'string') request[kConsumer] = { id: `slr_${plan}`, name: plan, plan, keyId: 'k' };
  if (request.headers['x-operator']) request[kOperator] = { subject: 'op', role: 'operator' };
  done();
};

/** A policy after load-shed that refuses before the handler (as quota would). */
const laterRefusal: onRequestHookHandler = (request, _reply, done) => {
  done(request.headers['x-refuse'] ? new FacetError('FACET_ERR_QUOTA_EXCEEDED', { headers: { 'retry-after': '9' } }) : undefined);
};

interface Setup {
  app: FastifyInstance;
  shedding: SheddingService;
  metrics: GatewayMetrics;
  loop: { delayMs: number };
  guard: EventLoopGuard;
  pen: ReturnType<typeof holdingPen>;
  hooks: RouteContribution;
}

function setup(t: TestContext, settings: SheddingSettings = SHEDDING): Setup {
  const loop = { delayMs: 0, start() {}, stop() {}, read: () => loop.delayMs };
  const guard = new EventLoopGuard(settings, loop);
  const shedding = new SheddingService(settings, ['mes'], { loopGuard: guard });
  const metrics = createMetrics();
  const services = { config: { ...CONFIG, shedding: settings }, metrics, shedding } as unknown as GatewayServices;
  const hooks = loadShedPolicy.build([{ condition: ALWAYS, action: { serviceEndpoint: 'mes' } }], ROUTE, services);
  const pen = holdingPen();
  const app = Fastify();
  installProblemHandlers(app);
  app.route({
    method: ['GET', 'POST'],
    url: '/work',
    onRequest: [fakeAuth, ...(hooks.onRequest ?? []), laterRefusal],
    preHandler: hooks.preHandler ?? [],
    onResponse: hooks.onResponse ?? [],
    handler: async (request, reply) => {
      await pen.enter();
      const status = Number(request.headers['x-status'] ?? 200);
      return reply.code(status).send({ status });
    },
  });
  t.after(() => {
    pen.release();
    shedding.close();
    return app.close();
  });
  return { app, shedding, metrics, loop, guard, pen, hooks };
}

const FREE = { 'x-seller': 'free' };
const PAID = { 'x-seller': 'standard' };
const OPERATOR = { 'x-operator': '1' };

async function decisions(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await metrics.shedDecisions.get()).values) out[`${labels.plan}/${labels.class}/${labels.outcome}/${labels.reason}`] = value;
  return out;
}

describe('load-shed policy', () => {
  it('sheds free reads with 503 problem+json and Retry-After while critical and paid requests pass', async (t) => {
    const { app, shedding, metrics, pen } = setup(t);
    const held = [app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE })];
    await pen.reached(2);

    const shed = await app.inject({ url: '/work', headers: FREE });
    assert.equal(shed.statusCode, 503);
    assert.match(shed.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(shed.headers['retry-after'], '2');
    const body = shed.json();
    assert.equal(body.code, 'FACET_ERR_OVERLOADED');
    assert.equal(body.type, '/problems/overloaded');
    assert.match(body.detail, /free-read requests; retry in 2 s/);
    assert.doesNotMatch(body.detail, /mes/, 'the upstream stays unnamed');

    held.push(app.inject({ url: '/work', headers: PAID }), app.inject({ url: '/work', headers: OPERATOR }));
    await pen.reached(4);
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 4);
    const paidShed = await app.inject({ url: '/work', headers: PAID });
    assert.equal(paidShed.statusCode, 503, 'paid reads stop at 3 of 4');
    const writeShed = await app.inject({ method: 'POST', url: '/work', headers: FREE });
    assert.equal(writeShed.statusCode, 503, 'writes stop at 3 of 4');

    pen.release();
    for (const res of await Promise.all(held)) assert.equal(res.statusCode, 200);
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 0);

    assert.deepEqual(await decisions(metrics), {
      'free/free-read/admitted/none': 2,
      'free/free-read/shed/adaptive_limit': 1,
      'standard/paid-read/admitted/none': 1,
      'none/critical/admitted/none': 1,
      'standard/paid-read/shed/adaptive_limit': 1,
      'free/write/shed/adaptive_limit': 1,
    });
  });

  it('sheds by event-loop delay, lowest class first, never critical', async (t) => {
    const { app, metrics, guard, loop, pen } = setup(t);
    pen.release();
    loop.delayMs = 250;
    guard.sample();
    assert.equal((await app.inject({ url: '/work', headers: FREE })).statusCode, 503);
    assert.equal((await app.inject({ url: '/work', headers: PAID })).statusCode, 503);
    assert.equal((await app.inject({ method: 'POST', url: '/work', headers: PAID })).statusCode, 200);
    assert.equal((await app.inject({ url: '/work', headers: OPERATOR })).statusCode, 200);
    assert.equal((await app.inject({ url: '/work' })).statusCode, 200, 'an internal call (no seller) is critical');
    const counted = await decisions(metrics);
    assert.equal(counted['free/free-read/shed/event_loop'], 1);
    assert.equal(counted['standard/paid-read/shed/event_loop'], 1);
  });

  it('frees the slot of a request refused before its handler, without an RTT sample', async (t) => {
    const { app, shedding, pen } = setup(t);
    pen.release();
    const refused = await app.inject({ url: '/work', headers: { ...PAID, 'x-refuse': '1' } });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['retry-after'], '9');
    const snap = shedding.snapshot().upstreams.mes;
    assert.equal(snap?.inflight, 0);
    assert.equal(shedding.gate('mes')?.limiter.longRtt, 0, 'no sample');
  });

  it('counts 5xx other than 503 as drops that shrink the limit; a 503 neither samples nor drops', async (t) => {
    const { app, shedding, pen } = setup(t, { ...SHEDDING, adaptive: { ...SHEDDING.adaptive, initialLimit: 40 } });
    pen.release();
    const limiter = shedding.gate('mes')?.limiter;
    assert.equal((await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-status': '503' } })).statusCode, 503);
    assert.equal(limiter?.limit, 40);
    assert.equal((await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-status': '504' } })).statusCode, 504);
    assert.equal(limiter?.limit, 36);
    assert.equal((await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-status': '502' } })).statusCode, 502);
    assert.equal(limiter?.limit, 32.4);
    assert.equal((await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-status': '404' } })).statusCode, 404);
    assert.ok((limiter?.longRtt ?? 0) > 0, 'a 4xx from the upstream is an RTT sample');
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 0);
  });

  it('frees the slot when the client goes away before the answer (Fastify runs no onResponse then)', async (t) => {
    const { app, shedding, pen } = setup(t);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const client = httpRequest({ port, host: '127.0.0.1', path: '/work', headers: FREE });
    client.on('error', () => {});
    client.end();
    await pen.reached(1);
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 1);
    client.destroy();
    for (let i = 0; i < 200 && shedding.snapshot().upstreams.mes?.inflight !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 0);
    pen.release(); // the handler finishes after the client left: the slot is not freed twice
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 0);
  });

  it('adds no hooks when shedding is disabled', (t) => {
    const { hooks } = setup(t, { ...SHEDDING, enabled: false });
    assert.deepEqual(hooks, {});
  });

  it('refuses to build before authentication in a pipeline', (t) => {
    const { shedding } = setup(t);
    const services = { config: CONFIG, metrics: createMetrics(), shedding } as unknown as GatewayServices;
    assert.throws(
      () => loadShedPolicy.build([{ condition: ALWAYS, action: { serviceEndpoint: 'mes' } }], { ...ROUTE, pipeline: 'early' }, services),
      /^Error: pipelines\.early: load-shed must come after jwt-auth/,
    );
  });

  it('checks that the service endpoint exists', () => {
    const context = { config: CONFIG, contracts: undefined as never, routes: [] };
    assert.deepEqual(loadShedPolicy.check?.({ serviceEndpoint: 'mes' }, context), []);
    assert.deepEqual(loadShedPolicy.check?.({ serviceEndpoint: 'erp' }, context), ['serviceEndpoint: unknown service endpoint "erp" (known: mes)']);
  });

  it('decides in microseconds (reported, loosely bounded)', (t) => {
    const settings = { ...SHEDDING, adaptive: { ...SHEDDING.adaptive, initialLimit: 100 } };
    const { shedding, hooks } = setup(t, settings);
    const [decide] = hooks.onRequest ?? [];
    const [begin] = hooks.preHandler ?? [];
    const [settle] = hooks.onResponse ?? [];
    assert.ok(decide && begin && settle);
    const call = (hook: (...args: never[]) => unknown, request: object, reply: object) => {
      let error: unknown;
      (hook as unknown as (this: unknown, rq: object, rp: object, done: (e?: unknown) => void) => void).call(null, request, reply, (e) => (error = e));
      return error;
    };
    const N = 10_000;
    const consumer = { id: 'slr_1', name: 'x', plan: 'standard', keyId: 'k' };
    const admitted = () => {
      const request = { method: 'GET', url: '/work', headers: {}, [kConsumer]: consumer };
      const reply = { raw: Object.assign(new EventEmitter(), { writableFinished: true }), statusCode: 200 };
      if (call(decide, request, reply) !== undefined) assert.fail('shed');
      call(begin, request, reply);
      call(settle, request, reply);
    };
    const shed = () => {
      const request = { method: 'GET', url: '/work', headers: {}, [kConsumer]: consumer };
      const reply = { raw: new EventEmitter(), statusCode: 200 };
      if (!(call(decide, request, reply) instanceof FacetError)) assert.fail('admitted');
      if (kShedTicket in request) assert.fail('a shed request holds no ticket');
    };
    /** Mean µs per call over N calls, after N to warm up (let the JIT optimise). */
    const measure = (fn: () => void) => {
      for (let i = 0; i < N; i++) fn();
      const start = performance.now();
      for (let i = 0; i < N; i++) fn();
      return ((performance.now() - start) * 1000) / N;
    };

    // Admitted: decide + begin + settle, the policy's whole per-request cost.
    const admittedUs = measure(admitted);
    assert.equal(shedding.snapshot().upstreams.mes?.inflight, 0);
    // Shed: the gate is full for paid reads (75 of 100).
    const full = Array.from({ length: 75 }, () => shedding.admit('critical', 'mes'));
    const shedUs = measure(shed);
    for (const a of full) if ('ticket' in a) a.ticket.abandon();

    t.diagnostic(`per decision: admitted (decide+begin+settle) ${admittedUs.toFixed(2)} µs, shed ${shedUs.toFixed(2)} µs`);
    assert.ok(admittedUs < 50 && shedUs < 50, `admitted ${admittedUs} µs, shed ${shedUs} µs`);
  });
});
