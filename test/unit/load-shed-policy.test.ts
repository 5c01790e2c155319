import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler, type RouteHandlerMethod } from 'fastify';
import type { ProblemCode } from '../../platform/errors/catalogue.ts';
import type { GatewayConfig } from '../../platform/pipeline/config.ts';
import type { SheddingSettings } from '../../policies/load-shed/settings.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { installProblemHandlers, sendProblem } from '../../platform/errors/problem.ts';
import { createMetrics, type GatewayMetrics } from '../../platform/metrics/registry.ts';
import { ALWAYS } from '../../platform/pipeline/conditions.ts';
import type { PolicyBuildContext, PolicyStep, RouteContribution } from '../../platform/pipeline/policy.ts';
import { kConsumer, kOperator } from '../../platform/pipeline/request-state.ts';
import { EventLoopGuard } from '../../policies/load-shed/event-loop-guard.ts';
import { DROP_FACTOR } from '../../policies/load-shed/gradient-limit.ts';
import { kShedClass, loadShedPolicy, type LoadShedAction } from '../../policies/load-shed/index.ts';
import { SheddingService } from '../../policies/load-shed/shedding-service.ts';
import type { Ticket } from '../../policies/load-shed/upstream-gate.ts';

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
    cached: { apiEndpoints: ['test'], policies: [{ 'key-auth': {} }, { cache: {} }, { 'load-shed': {} }, { proxy: {} }] },
    early: { apiEndpoints: ['test'], policies: [{ 'load-shed': {} }, { 'jwt-auth': {} }, { proxy: {} }] },
  },
  plans: { free: { tier: 'free' }, standard: { tier: 'paid' } },
  serviceEndpoints: { mes: { url: 'http://127.0.0.1:1' } },
  shedding: SHEDDING,
} as unknown as GatewayConfig;

const ROUTE = { pipeline: 'test', apiEndpoint: 'test', method: 'GET', path: '/work', operationId: undefined };
type BuildContext = PolicyBuildContext<SheddingSettings, SheddingService>;
const ALWAYS_MES: PolicyStep<LoadShedAction>[] = [{ condition: ALWAYS, action: { serviceEndpoint: 'mes' } }];

/** Holds every upstream call until the test lets them go. */
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
    /** Upstream calls started so far. */
    get arrived(): number {
      return arrived;
    },
    /** Resolves once `n` calls are inside. */
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
  /** The replies of the upstream calls, in order. */
  replies: FastifyReply[];
}

interface SetupOptions {
  steps?: PolicyStep<LoadShedAction>[];
  /** A wrapper listed before load-shed in the pipeline (so outside it), as the cache is. */
  outer?: (next: RouteHandlerMethod) => RouteHandlerMethod;
  /** The route's pipeline in CONFIG: `test` (every request calls the upstream) by default, `cached` has a cache step. */
  pipeline?: 'test' | 'cached';
}

function setup(t: TestContext, settings: SheddingSettings = SHEDDING, options: SetupOptions = {}): Setup {
  const loop = { delayMs: 0, start() {}, stop() {}, read: () => loop.delayMs };
  const guard = new EventLoopGuard(settings, loop);
  const shedding = new SheddingService(settings, ['mes'], { loopGuard: guard });
  const metrics = createMetrics();
  const services = { config: CONFIG, settings, metrics, service: shedding } as unknown as BuildContext;
  const hooks = loadShedPolicy.build(options.steps ?? ALWAYS_MES, { ...ROUTE, pipeline: options.pipeline ?? ROUTE.pipeline }, services);
  const pen = holdingPen();
  const replies: FastifyReply[] = [];

  // The upstream call: waits in the pen (`x-delay: <ms>` waits that long
  // instead), then answers, or fails the way the upstream client does, by
  // throwing: `x-fail: <FacetError code>`, or `x-fail: crash` for a plain Error.
  // `x-answer: <FacetError code>` fails the way the streaming pass-through
  // does: it sends the problem+json itself and returns the reply.
  const innerHandler: RouteHandlerMethod = async (request, reply) => {
    replies.push(reply);
    const delay = Number(request.headers['x-delay'] ?? 0);
    if (delay > 0) await sleep(delay);
    else await pen.enter();
    const fail = request.headers['x-fail'];
    if (fail === 'crash') throw new Error('a bug in the handler');
    if (typeof fail === 'string') throw new FacetError(fail as ProblemCode, { detail: `upstream: ${fail}` });
    const answer = request.headers['x-answer'];
    if (typeof answer === 'string') return sendProblem(request, reply, new FacetError(answer as ProblemCode));
    return { ok: true };
  };
  const shed = hooks.wrapHandler ? hooks.wrapHandler(innerHandler) : innerHandler;

  const app = Fastify();
  installProblemHandlers(app);
  app.route({
    method: ['GET', 'POST'],
    url: '/work',
    onRequest: [fakeAuth, ...(hooks.onRequest ?? []), laterRefusal],
    preHandler: hooks.preHandler ?? [],
    onResponse: hooks.onResponse ?? [],
    handler: options.outer ? options.outer(shed) : shed,
  });
  t.after(() => {
    pen.release();
    shedding.close();
    return app.close();
  });
  return { app, shedding, metrics, loop, guard, pen, hooks, replies };
}

const FREE = { 'x-seller': 'free' };
const PAID = { 'x-seller': 'standard' };
const OPERATOR = { 'x-operator': '1' };

function inflight(shedding: SheddingService): number | undefined {
  return shedding.snapshot().upstreams.mes?.inflight;
}

/** Lets pending promise callbacks and timers run until `done()` holds (or gives up). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await sleep(5);
}

async function decisions(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await metrics.shedDecisions.get()).values) out[`${labels.plan}/${labels.class}/${labels.outcome}/${labels.reason}`] = value;
  return out;
}

describe('load-shed policy', () => {
  it('contributes an onRequest decision and a handler wrapper, nothing else', (t) => {
    const { hooks } = setup(t);
    assert.deepEqual(Object.keys(hooks).sort(), ['onRequest', 'wrapHandler']);
    assert.equal(hooks.onRequest?.length, 1);
  });

  it('sheds free reads with 503 problem+json and Retry-After while paid and operator requests pass', async (t) => {
    const { app, shedding, metrics, pen } = setup(t);
    const held = [app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE })];
    await pen.reached(2);
    assert.equal(inflight(shedding), 2);

    const shed = await app.inject({ url: '/work', headers: FREE });
    assert.equal(shed.statusCode, 503);
    assert.match(shed.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(shed.headers['retry-after'], '2');
    const body = shed.json();
    assert.equal(body.code, 'FACET_ERR_OVERLOADED');
    assert.equal(body.type, '/problems/overloaded');
    assert.match(body.detail, /at capacity for free-read requests; retry in 2 s/);
    assert.doesNotMatch(body.detail, /mes/, 'the upstream stays unnamed');

    held.push(app.inject({ url: '/work', headers: PAID }), app.inject({ url: '/work', headers: OPERATOR }));
    await pen.reached(4);
    assert.equal(inflight(shedding), 4);
    const paidShed = await app.inject({ url: '/work', headers: PAID });
    assert.equal(paidShed.statusCode, 503, 'paid reads stop at 3 of 4');
    const writeShed = await app.inject({ method: 'POST', url: '/work', headers: FREE });
    assert.equal(writeShed.statusCode, 503, 'writes stop at 3 of 4');
    assert.equal(pen.arrived, 4, 'a shed request never reaches the upstream call');

    pen.release();
    for (const res of await Promise.all(held)) assert.equal(res.statusCode, 200);
    assert.equal(inflight(shedding), 0);

    assert.deepEqual(await decisions(metrics), {
      'free/free-read/admitted/none': 2,
      'free/free-read/shed/adaptive_limit': 1,
      'standard/paid-read/admitted/none': 1,
      'none/critical/admitted/none': 1,
      'standard/paid-read/shed/adaptive_limit': 1,
      'free/write/shed/adaptive_limit': 1,
    });
  });

  it('sheds by event-loop delay in onRequest, lowest class first, never critical', async (t) => {
    const { app, shedding, metrics, guard, loop, pen } = setup(t);
    pen.release();
    loop.delayMs = 250;
    guard.sample();
    const free = await app.inject({ url: '/work', headers: FREE });
    assert.equal(free.statusCode, 503);
    assert.equal(free.headers['retry-after'], '2');
    assert.match(free.json().detail, /overloaded and is shedding free-read requests; retry in 2 s/);
    assert.equal((await app.inject({ url: '/work', headers: PAID })).statusCode, 503);
    const refusedLater = await app.inject({ url: '/work', headers: { ...FREE, 'x-refuse': '1' } });
    assert.equal(refusedLater.statusCode, 503, 'shed in onRequest, before the hooks after it (quota) run');
    assert.equal(pen.arrived, 0, 'no shed request reached the upstream call');
    assert.equal((await app.inject({ method: 'POST', url: '/work', headers: PAID })).statusCode, 200);
    assert.equal((await app.inject({ url: '/work', headers: OPERATOR })).statusCode, 200);
    assert.equal((await app.inject({ url: '/work' })).statusCode, 200, 'an internal call (no seller) is critical');
    assert.equal(inflight(shedding), 0);
    assert.deepEqual(await decisions(metrics), {
      'free/free-read/shed/event_loop': 2,
      'standard/paid-read/shed/event_loop': 1,
      'standard/write/admitted/none': 1,
      'none/critical/admitted/none': 2,
    });
  });

  it('takes no slot for a request refused before its handler', async (t) => {
    const { app, shedding, metrics, pen } = setup(t, SHEDDING, { pipeline: 'cached' });
    // The free-read share (2 of 4) is full, and the pen keeps it full.
    const held = [app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE })];
    await pen.reached(2);
    for (const headers of [FREE, PAID, OPERATOR]) {
      const refused = await app.inject({ url: '/work', headers: { ...headers, 'x-refuse': '1' } });
      assert.equal(refused.statusCode, 429, 'the later refusal answers: with a cache step, a full gate says nothing before the upstream call');
      assert.equal(refused.headers['retry-after'], '9');
    }
    assert.equal(inflight(shedding), 2, 'the refused requests took no slot');
    pen.release();
    await Promise.all(held);
    assert.equal(inflight(shedding), 0);
    assert.ok((shedding.gate('mes')?.limiter.longRtt ?? 0) > 0, 'the two upstream calls were sampled');
    assert.deepEqual(await decisions(metrics), { 'free/free-read/admitted/none': 2 }, 'refused requests never met the gate');
  });

  it('refuses a full class in onRequest, before the policies after it, when every request calls the upstream', async (t) => {
    const { app, shedding, metrics, pen } = setup(t);
    const held = [app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE })];
    await pen.reached(2);
    const early = await app.inject({ url: '/work', headers: { ...FREE, 'x-refuse': '1' } });
    assert.equal(early.statusCode, 503, 'shed before the later refusal (quota) ran');
    assert.equal(early.json().code, 'FACET_ERR_OVERLOADED');
    assert.equal(early.headers['retry-after'], '2');
    for (const headers of [PAID, OPERATOR]) {
      const refused = await app.inject({ url: '/work', headers: { ...headers, 'x-refuse': '1' } });
      assert.equal(refused.statusCode, 429, 'classes with room go on to the later policies');
    }
    assert.equal(inflight(shedding), 2, 'neither the early refusal nor the later ones took a slot');
    assert.equal(pen.arrived, 2);
    pen.release();
    await Promise.all(held);
    assert.equal(inflight(shedding), 0);
    assert.deepEqual(await decisions(metrics), { 'free/free-read/admitted/none': 2, 'free/free-read/shed/adaptive_limit': 1 });
  });

  it('takes no slot for a request refused before its handler, even alone', async (t) => {
    const { app, shedding, pen } = setup(t);
    pen.release();
    assert.equal((await app.inject({ url: '/work', headers: { ...PAID, 'x-refuse': '1' } })).statusCode, 429);
    assert.equal(inflight(shedding), 0);
    assert.equal(shedding.gate('mes')?.limiter.longRtt, 0, 'no sample');
    assert.equal(pen.arrived, 0);
  });

  it('lets an outer wrapper (the cache) answer hits and collapse reads without taking slots', async (t) => {
    // What the cache does around load-shed: a hit never calls the wrapped
    // handler; concurrent misses share one call.
    const fakeCache = (next: RouteHandlerMethod): RouteHandlerMethod => {
      let pending: Promise<unknown> | undefined;
      return async function cached(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
        if (request.headers['x-cached']) return { cached: true };
        pending ??= Promise.resolve(next.call(this, request, reply)).finally(() => (pending = undefined));
        return pending;
      };
    };
    const { app, shedding, metrics, pen } = setup(t, SHEDDING, { outer: fakeCache, pipeline: 'cached' });
    const collapsed = Array.from({ length: 5 }, () => app.inject({ url: '/work', headers: FREE }));
    await pen.reached(1);
    await sleep(10);
    assert.equal(pen.arrived, 1, 'five reads, one upstream call');
    assert.equal(inflight(shedding), 1, 'one slot for the five');
    // Fill the rest of the free-read share: a miss would now be shed, a hit is not.
    const other = shedding.acquire('free-read', 'mes') as Ticket;
    assert.ok(other);
    for (let i = 0; i < 3; i++) assert.equal((await app.inject({ url: '/work', headers: { ...FREE, 'x-cached': '1' } })).statusCode, 200);
    assert.equal(inflight(shedding), 2);
    pen.release();
    for (const res of await Promise.all(collapsed)) assert.deepEqual([res.statusCode, res.json()], [200, { ok: true }]);
    other.abandon();
    assert.equal(inflight(shedding), 0);
    assert.deepEqual(await decisions(metrics), { 'free/free-read/admitted/none': 1 });
  });

  it('classifies upstream failures: timeouts, bad responses and crashes shrink the limit; unavailable, open circuit, saturation give no sample', async (t) => {
    const { app, shedding } = setup(t, { ...SHEDDING, adaptive: { ...SHEDDING.adaptive, initialLimit: 40 } });
    const limiter = shedding.gate('mes')?.limiter;
    assert.ok(limiter);
    const call = async (fail: string, status: number, code?: string) => {
      const res = await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-delay': '2', 'x-fail': fail } });
      assert.equal(res.statusCode, status, fail);
      if (code) assert.equal(res.json().code, code, 'the upstream error reaches the client unchanged');
      assert.equal(inflight(shedding), 0, `${fail}: the slot is freed`);
    };

    let expected = 40;
    for (const code of ['FACET_ERR_UPSTREAM_UNAVAILABLE', 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN', 'FACET_ERR_UPSTREAM_SATURATED', 'FACET_ERR_OVERLOADED']) {
      await call(code, 503, code);
      assert.equal(limiter.limit, expected, `${code}: no drop`);
      assert.equal(limiter.longRtt, 0, `${code}: no sample`);
    }
    for (const [code, status] of [
      ['FACET_ERR_UPSTREAM_TIMEOUT', 504],
      ['FACET_ERR_UPSTREAM_BAD_RESPONSE', 502],
      ['FACET_ERR_INTERNAL', 500],
    ] as const) {
      await call(code, status, code);
      expected *= DROP_FACTOR;
      assert.equal(limiter.limit, expected, `${code}: a drop`);
      assert.equal(limiter.longRtt, 0, `${code}: a drop is no RTT sample`);
    }
    await call('crash', 500, 'FACET_ERR_INTERNAL');
    expected *= DROP_FACTOR;
    assert.equal(limiter.limit, expected, 'a plain Error counts as an internal error: a drop');
  });

  it('classifies a failure the handler answered itself (the pass-through) by its status', async (t) => {
    const { app, shedding } = setup(t, { ...SHEDDING, adaptive: { ...SHEDDING.adaptive, initialLimit: 40 } });
    const limiter = shedding.gate('mes')?.limiter;
    assert.ok(limiter);
    const answer = async (code: string, status: number) => {
      const res = await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-delay': '2', 'x-answer': code } });
      assert.deepEqual([res.statusCode, res.json().code], [status, code]);
      assert.equal(inflight(shedding), 0, `${code}: the slot is freed`);
    };
    for (const code of ['FACET_ERR_UPSTREAM_UNAVAILABLE', 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN', 'FACET_ERR_UPSTREAM_SATURATED']) await answer(code, 503);
    assert.deepEqual([limiter.limit, limiter.longRtt], [40, 0], 'a 503 gives no sample');
    await answer('FACET_ERR_UPSTREAM_TIMEOUT', 504);
    await answer('FACET_ERR_UPSTREAM_BAD_RESPONSE', 502);
    assert.deepEqual([limiter.limit, limiter.longRtt], [40 * DROP_FACTOR * DROP_FACTOR, 0], 'a 504 and a 502 are drops');
    await answer('FACET_ERR_NOT_FOUND', 404);
    assert.ok(limiter.longRtt > 0, 'a 404 is a sample');
  });

  it('samples the RTT of answers and of other errors (a 404 is a healthy upstream)', async (t) => {
    const { app, shedding } = setup(t, { ...SHEDDING, adaptive: { ...SHEDDING.adaptive, initialLimit: 40 } });
    const limiter = shedding.gate('mes')?.limiter;
    assert.ok(limiter);
    const notFound = await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-delay': '20', 'x-fail': 'FACET_ERR_NOT_FOUND' } });
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.json().code, 'FACET_ERR_NOT_FOUND');
    assert.equal(limiter.limit, 40, 'no drop');
    assert.ok(limiter.longRtt >= 15 && limiter.longRtt < 1000, `one sample, measured around the upstream call: ${limiter.longRtt} ms`);
    const first = limiter.longRtt;
    assert.equal((await app.inject({ url: '/work', headers: { ...OPERATOR, 'x-delay': '40' } })).statusCode, 200);
    assert.ok(limiter.longRtt > first, `a 200 is a sample too: ${first} → ${limiter.longRtt} ms`);
    assert.equal(inflight(shedding), 0);
  });

  it('holds the slot while the upstream call runs after the client went away, and frees it when the call settles', async (t) => {
    const { app, shedding, pen, replies } = setup(t);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const client = httpRequest({ port, host: '127.0.0.1', path: '/work', headers: FREE });
    client.on('error', () => {});
    client.end();
    await pen.reached(1);
    assert.equal(inflight(shedding), 1);
    const reply = replies[0];
    assert.ok(reply);
    const closed = once(reply.raw, 'close');
    client.destroy();
    await closed;
    await sleep(20);
    assert.equal(inflight(shedding), 1, 'the upstream call still runs: its slot stays taken');

    pen.release(); // the upstream call finishes after the client left
    await until(() => inflight(shedding) === 0);
    assert.equal(inflight(shedding), 0, 'freed when the handler settled');
    await sleep(20);
    assert.equal(inflight(shedding), 0, 'and only once');
    // The gate is whole again: the free-read share (2) admits two more.
    const again = await Promise.all([app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE })]);
    assert.deepEqual(again.map((r) => r.statusCode), [200, 200]);
  });

  it('takes no slot on a route whose steps do not match', async (t) => {
    const steps: PolicyStep<LoadShedAction>[] = [{ condition: (input) => input.method === 'POST', action: { serviceEndpoint: 'mes' } }];
    const { app, shedding, metrics, guard, loop, pen } = setup(t, SHEDDING, { steps });
    const held = [app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE }), app.inject({ url: '/work', headers: FREE })];
    await pen.reached(3);
    assert.equal(inflight(shedding), 0, 'unmatched GETs pass through the wrapper untouched');
    loop.delayMs = 500;
    guard.sample();
    assert.equal((await app.inject({ method: 'POST', url: '/work', headers: FREE })).statusCode, 503, 'a matched POST is shed');
    loop.delayMs = 0;
    guard.sample();
    pen.release();
    for (const res of await Promise.all(held)) assert.equal(res.statusCode, 200);
    assert.deepEqual(await decisions(metrics), { 'free/write/shed/event_loop': 1 });
  });

  it('adds no hooks when shedding is disabled', async (t) => {
    const { app, hooks, pen } = setup(t, { ...SHEDDING, enabled: false });
    assert.deepEqual(hooks, {});
    pen.release();
    assert.equal((await app.inject({ url: '/work', headers: FREE })).statusCode, 200);
  });

  it('refuses to build before authentication in a pipeline', (t) => {
    const { shedding } = setup(t);
    const services = { config: CONFIG, settings: SHEDDING, metrics: createMetrics(), service: shedding } as unknown as BuildContext;
    assert.throws(() => loadShedPolicy.build(ALWAYS_MES, { ...ROUTE, pipeline: 'early' }, services), /^Error: pipelines\.early: load-shed must come after jwt-auth/);
  });

  it('checks that the service endpoint exists', () => {
    const context = { config: CONFIG, settings: SHEDDING, specs: undefined as never, operations: undefined as never, routes: [] };
    assert.deepEqual(loadShedPolicy.check?.({ serviceEndpoint: 'mes' }, context), []);
    assert.deepEqual(loadShedPolicy.check?.({ serviceEndpoint: 'erp' }, context), ['serviceEndpoint: unknown service endpoint "erp" (known: mes)']);
  });

  it('decides in microseconds (reported, loosely bounded)', async (t) => {
    const settings = { ...SHEDDING, adaptive: { ...SHEDDING.adaptive, initialLimit: 100 } };
    const { app, shedding, hooks, guard, loop } = setup(t, settings);
    const [decide] = hooks.onRequest ?? [];
    assert.ok(decide && hooks.wrapHandler);
    const upstream = { ok: true };
    const wrapped = hooks.wrapHandler(async () => upstream);
    const onRequest = (request: object): unknown => {
      let error: unknown;
      (decide as unknown as (this: unknown, rq: object, rp: object, done: (e?: unknown) => void) => void).call(app, request, {}, (e) => (error = e));
      return error;
    };
    const handle = (request: object): Promise<unknown> => (wrapped as unknown as (this: unknown, rq: object, rp: object) => Promise<unknown>).call(app, request, {});
    const N = 10_000;
    const paid = { id: 'slr_1', name: 'x', plan: 'standard', keyId: 'k' };
    const free = { id: 'slr_2', name: 'y', plan: 'free', keyId: 'k' };
    const requestOf = (consumer: object): Record<PropertyKey, unknown> => ({ method: 'GET', url: '/work', headers: {}, [kConsumer]: consumer });

    const admitted = async () => {
      const request = requestOf(paid);
      if (onRequest(request) !== undefined) assert.fail('shed in onRequest');
      if ((await handle(request)) !== upstream) assert.fail('not the upstream answer');
    };
    const shedByLoop = () => {
      if (!(onRequest(requestOf(free)) instanceof FacetError)) assert.fail('admitted');
    };
    // This pipeline has no cache step, so a full gate refuses in onRequest already.
    const shedByLimit = () => {
      const error = onRequest(requestOf(paid));
      if (!(error instanceof FacetError && error.detail?.startsWith('The upstream behind this operation is at capacity'))) assert.fail('not shed by the adaptive limit');
    };
    /** Mean µs per call over N calls, after N to warm up (let the JIT optimise). */
    const measureSync = (fn: () => void) => {
      for (let i = 0; i < N; i++) fn();
      const start = performance.now();
      for (let i = 0; i < N; i++) fn();
      return ((performance.now() - start) * 1000) / N;
    };
    /** The same for the wrapper, an async function: each call includes awaiting it. */
    const measure = async (fn: () => Promise<void>) => {
      for (let i = 0; i < N; i++) await fn();
      const start = performance.now();
      for (let i = 0; i < N; i++) await fn();
      return ((performance.now() - start) * 1000) / N;
    };

    const probe = requestOf(paid);
    onRequest(probe);
    assert.equal(probe[kShedClass], 'paid-read', 'decide leaves the class for the wrapper');

    // Admitted: decide + acquire, await the upstream, release: the policy's whole per-request cost.
    const admittedUs = await measure(admitted);
    assert.equal(inflight(shedding), 0);
    assert.ok((shedding.gate('mes')?.limiter.longRtt ?? -1) >= 0);

    // Shed in onRequest: the event loop lags past the free-read threshold.
    loop.delayMs = 150;
    guard.sample();
    const loopUs = measureSync(shedByLoop);
    loop.delayMs = 0;
    guard.sample();

    // Shed by the gate: full for paid reads (75 % of the limit, which the
    // admitted run's samples may have moved).
    const gate = shedding.gate('mes');
    assert.ok(gate);
    const full: Ticket[] = [];
    while (gate.inflight < gate.capacity('paid-read')) full.push(shedding.acquire('critical', 'mes') as Ticket);
    const limitUs = measureSync(shedByLimit);
    for (const ticket of full) ticket.abandon();
    assert.equal(inflight(shedding), 0);

    t.diagnostic(
      `per request: admitted (decide + acquire/begin/release around the call) ${admittedUs.toFixed(2)} µs, ` +
        `shed by event loop ${loopUs.toFixed(2)} µs, shed by adaptive limit ${limitUs.toFixed(2)} µs`,
    );
    // Loose on purpose: shared CI machines, and node:test's async context
    // tracking makes every await dearer than in production (a few µs here).
    assert.ok(loopUs < 50, `shed by event loop: ${loopUs} µs`);
    assert.ok(admittedUs < 100 && limitUs < 100, `admitted ${admittedUs} µs, shed by adaptive limit ${limitUs} µs`);
  });
});
