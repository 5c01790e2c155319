// Upstream resilience (platform/upstream/resilience.ts) through the real
// UpstreamClient against a tiny local HTTP upstream that counts its calls.
//
//   npx node --import tsx --test test/unit/resilience.test.ts

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResilienceConfig, ServiceEndpointConfig } from '../../platform/upstream/settings.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { createMetrics, type GatewayMetrics } from '../../platform/metrics/registry.ts';
import { UpstreamClient } from '../../platform/upstream/client.ts';
import { CallerCancelledError, isRetryable, isUpstreamFailure, UpstreamStatusError } from '../../platform/upstream/failures.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const ok: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
};
const status =
  (code: number): Handler =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json' }).end('{"error":"secret upstream detail"}');
  };
const hang: Handler = () => undefined;

/** A local upstream on 127.0.0.1:0; `calls` counts requests, `aborted` those closed before an answer. */
const upstream = {
  url: '',
  calls: 0,
  aborted: 0,
  handler: ok as Handler,
  server: createServer((req, res) => {
    upstream.calls++;
    res.on('close', () => {
      if (!res.writableFinished) upstream.aborted++;
    });
    upstream.handler(req, res);
  }),
};

interface Overrides {
  timeoutMs?: number;
  retry?: Partial<ResilienceConfig['retry']>;
  breaker?: Partial<ResilienceConfig['breaker']>;
  bulkhead?: Partial<ResilienceConfig['bulkhead']>;
}

/** Breaker settings that never open within a test unless asked to. */
const QUIET_BREAKER = { failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps: 1_000, halfOpenAfterMs: 60_000 };
/** Opens after 2 failed samples out of 2 within 10 s. */
const EAGER_BREAKER = { minimumRps: 0.2 };

const clients: UpstreamClient[] = [];

function client(overrides: Overrides = {}, metrics?: GatewayMetrics): UpstreamClient {
  const config: ServiceEndpointConfig = {
    url: upstream.url,
    timeoutMs: overrides.timeoutMs ?? 2_000,
    connections: 8,
    healthPath: '/healthz',
    readiness: 'optional',
    resilience: {
      retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 20, ...overrides.retry },
      breaker: { ...QUIET_BREAKER, ...overrides.breaker },
      bulkhead: { limit: 16, queue: 4, ...overrides.bulkhead },
    },
  };
  const c = new UpstreamClient('crm', config, metrics);
  clients.push(c);
  return c;
}

async function problemOf(promise: Promise<unknown>): Promise<FacetError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof FacetError, `not a FacetError: ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

async function until(predicate: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function counter(metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

/** Drives `c` with failing GETs until its breaker opens. */
async function openBreaker(c: UpstreamClient): Promise<void> {
  upstream.handler = status(503);
  for (let i = 0; i < 10 && c.resilience.snapshot().breaker !== 'open'; i++) await problemOf(c.json({ path: '/x' }));
  assert.equal(c.resilience.snapshot().breaker, 'open');
}

describe('upstream resilience', () => {
  before(async () => {
    await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    upstream.url = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    upstream.server.closeAllConnections();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    upstream.handler = ok;
    upstream.calls = 0;
    upstream.aborted = 0;
  });
  after(() => new Promise<void>((resolve) => upstream.server.close(() => resolve())));

  describe('retries: idempotent reads only', () => {
    it('a GET answered 503 is retried and then succeeds (2 calls)', async () => {
      const metrics = createMetrics();
      const c = client({}, metrics);
      upstream.handler = (req, res) => (upstream.calls === 1 ? status(503) : ok)(req, res);
      const response = await c.json<{ ok: boolean }>({ path: '/x' });
      assert.deepEqual(response, { status: 200, body: { ok: true } });
      assert.equal(upstream.calls, 2);
      assert.equal(await counter(metrics.upstreamRetries, { upstream: 'crm' }), 1);
      assert.equal(await counter(metrics.upstreamRequests, { upstream: 'crm', outcome: 'ok' }), 1);
    });

    it('a POST answered 503 is never retried (1 call) → 502, without the upstream body', async () => {
      const c = client();
      upstream.handler = status(503);
      const problem = await problemOf(c.json({ method: 'POST', path: '/x', body: { a: 1 } }));
      assert.equal(problem.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.equal(problem.statusCode, 502);
      assert.doesNotMatch(`${problem.message} ${problem.detail}`, /secret/);
      assert.equal(upstream.calls, 1);
    });

    it('a POST that times out or meets a reset is not retried either', async () => {
      const c = client({ timeoutMs: 100 });
      upstream.handler = hang;
      assert.equal((await problemOf(c.json({ method: 'PUT', path: '/x', body: {} }))).code, 'FACET_ERR_UPSTREAM_TIMEOUT');
      upstream.handler = (req) => req.socket.destroy();
      assert.equal((await problemOf(c.json({ method: 'DELETE', path: '/x' }))).code, 'FACET_ERR_UPSTREAM_UNAVAILABLE');
      assert.equal(upstream.calls, 2);
    });

    it('GET: retries exhausted on 502/504 → 502 after maxAttempts + 1 calls; a 500 is not retried', async () => {
      const c = client({ retry: { maxAttempts: 3 } });
      upstream.handler = (req, res) => status(upstream.calls % 2 ? 502 : 504)(req, res);
      assert.equal((await problemOf(c.json({ path: '/x' }))).code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.equal(upstream.calls, 4);
      upstream.calls = 0;
      upstream.handler = status(500);
      assert.equal((await problemOf(c.json({ path: '/x' }))).code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.equal(upstream.calls, 1);
    });

    it('GET: a connection reset is retried', async () => {
      const c = client();
      upstream.handler = (req, res) => (upstream.calls === 1 ? req.socket.destroy() : ok(req, res));
      assert.equal((await c.json({ path: '/x' })).status, 200);
      assert.equal(upstream.calls, 2);
    });

    it('a 4xx is an answer: returned, not retried, never a breaker failure', async () => {
      const c = client({ breaker: EAGER_BREAKER });
      upstream.handler = status(404);
      for (let i = 0; i < 10; i++) assert.equal((await c.json({ path: '/x' })).status, 404);
      assert.equal(upstream.calls, 10);
      assert.equal(c.resilience.snapshot().breaker, 'closed');
    });
  });

  describe('timeout', () => {
    it('really aborts the undici request: the upstream sees the request closed', async () => {
      const c = client({ timeoutMs: 100, retry: { maxAttempts: 0 } });
      upstream.handler = hang;
      const started = performance.now();
      const problem = await problemOf(c.json({ path: '/x' }));
      assert.equal(problem.code, 'FACET_ERR_UPSTREAM_TIMEOUT');
      assert.equal(problem.statusCode, 504);
      assert.ok(performance.now() - started < 1_500, 'answered near the timeout, not later');
      await until(() => upstream.aborted === 1, 'the upstream to see the request aborted');
      assert.equal(upstream.calls, 1);
    });

    it('each GET attempt has its own timeout and a timed-out attempt is retried', async () => {
      const c = client({ timeoutMs: 80, retry: { maxAttempts: 1 } });
      upstream.handler = (req, res) => (upstream.calls === 1 ? hang(req, res) : ok(req, res));
      assert.equal((await c.json({ path: '/x' })).status, 200);
      assert.equal(upstream.calls, 2);
      await until(() => upstream.aborted === 1, 'the first attempt aborted');
    });

    it('a per-request timeoutMs overrides the endpoint timeout', async () => {
      const c = client({ timeoutMs: 5_000, retry: { maxAttempts: 0 } });
      upstream.handler = hang;
      const started = performance.now();
      assert.equal((await problemOf(c.json({ path: '/x', timeoutMs: 50 }))).code, 'FACET_ERR_UPSTREAM_TIMEOUT');
      assert.ok(performance.now() - started < 2_000);
    });

    it("a caller's cancel is not a timeout and never counts toward the breaker", async () => {
      const c = client({ breaker: EAGER_BREAKER, retry: { maxAttempts: 0 } });
      upstream.handler = hang;
      for (let i = 0; i < 4; i++) {
        const caller = new AbortController();
        const call = c.json({ path: '/x', signal: caller.signal });
        await until(() => upstream.calls === i + 1, 'the call to arrive');
        caller.abort();
        assert.equal((await problemOf(call)).code, 'FACET_ERR_UPSTREAM_UNAVAILABLE');
      }
      assert.equal(c.resilience.snapshot().breaker, 'closed');
      await until(() => upstream.aborted === 4, 'the upstream to see the requests aborted');
    });
  });

  describe('circuit breaker', () => {
    it('each attempt counts, and an open breaker is not retried: the first failing GET makes 2 calls, not 6', async () => {
      const c = client({ retry: { maxAttempts: 5 }, breaker: EAGER_BREAKER });
      upstream.handler = status(503);
      const problem = await problemOf(c.json({ path: '/x' }));
      assert.equal(upstream.calls, 2, 'attempt 2 opened the breaker; attempt 3 met it and the retry stopped');
      assert.equal(problem.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
    });

    it('opens after failures, then answers in microseconds without calling the upstream', async () => {
      const metrics = createMetrics();
      const c = client({ breaker: { ...EAGER_BREAKER, halfOpenAfterMs: 30_000 } }, metrics);
      await openBreaker(c);
      const calls = upstream.calls;
      upstream.handler = hang; // had a call got through, it would take the full timeout
      const durations: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const problem = await problemOf(c.json({ path: '/x' }));
        durations.push(performance.now() - started);
        assert.equal(problem.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
        assert.equal(problem.statusCode, 503);
        const retryAfter = Number(problem.headers?.['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);
      }
      durations.sort((a, b) => a - b);
      assert.ok((durations[9] ?? Infinity) < 5, `median ${durations[9]} ms`);
      assert.ok((durations[19] ?? Infinity) < 50, `slowest ${durations[19]} ms`);
      assert.equal(upstream.calls, calls, 'no call reached the upstream');
      assert.equal(await counter(metrics.upstreamBreakerState, { upstream: 'crm' }), 2);
      assert.equal(await counter(metrics.upstreamBreakerTransitions, { upstream: 'crm', to: 'open' }), 1);
      assert.equal(await counter(metrics.upstreamRequests, { upstream: 'crm', outcome: 'circuit_open' }), 21);
    });

    it('an open breaker answers CIRCUIT_OPEN at once even while the bulkhead is full', async () => {
      // Two GETs fail once each (the breaker opens) and then sit in their retry backoff, holding both slots.
      const c = client({ breaker: EAGER_BREAKER, bulkhead: { limit: 2, queue: 0 }, retry: { maxAttempts: 1, initialDelayMs: 300, maxDelayMs: 300 } });
      upstream.handler = status(503);
      const backingOff = [c.json({ path: '/a' }), c.json({ path: '/b' })].map((call) => problemOf(call));
      await until(() => c.resilience.snapshot().breaker === 'open', 'the breaker to open');
      assert.deepEqual(c.resilience.snapshot().bulkhead, { executing: 2, queued: 0, limit: 2 });
      assert.equal((await problemOf(c.json({ path: '/c' }))).code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      for (const problem of await Promise.all(backingOff)) assert.equal(problem.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      assert.equal(upstream.calls, 2, 'their retries met the open breaker');
    });

    it('half-open lets one trial through, refuses the others at once, and closes on success', async () => {
      const metrics = createMetrics();
      const c = client({ breaker: { ...EAGER_BREAKER, halfOpenAfterMs: 100 } }, metrics);
      await openBreaker(c);
      await sleep(150);
      const calls = upstream.calls;
      let releaseTrial: () => void = () => undefined;
      upstream.handler = (req, res) => {
        releaseTrial = () => ok(req, res);
      };
      const trial = c.json({ path: '/trial' });
      await until(() => upstream.calls === calls + 1, 'the trial to reach the upstream');
      assert.equal(c.resilience.snapshot().breaker, 'half-open');
      const started = performance.now();
      const other = await problemOf(c.json({ path: '/other' }));
      assert.equal(other.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      assert.equal(other.headers?.['retry-after'], '1');
      assert.ok(performance.now() - started < 50, 'not made to wait for the trial');
      releaseTrial();
      assert.equal((await trial).status, 200);
      assert.equal(c.resilience.snapshot().breaker, 'closed');
      upstream.handler = ok;
      assert.equal((await c.json({ path: '/x' })).status, 200);
      assert.equal(upstream.calls, calls + 2);
      assert.equal(await counter(metrics.upstreamBreakerState, { upstream: 'crm' }), 0);
      assert.equal(await counter(metrics.upstreamBreakerTransitions, { upstream: 'crm', to: 'half-open' }), 1);
      assert.equal(await counter(metrics.upstreamBreakerTransitions, { upstream: 'crm', to: 'closed' }), 1);
    });

    it('a call that passed the gate before the trial started is refused at once too, not made to wait for it', async () => {
      // H1 and H2 fail once (the breaker opens) and back off holding both bulkhead slots; Q queues behind them.
      // One of them, retrying, becomes the half-open trial; the other and then Q must not wait for its verdict.
      const c = client({ breaker: { ...EAGER_BREAKER, halfOpenAfterMs: 10 }, bulkhead: { limit: 2, queue: 1 }, retry: { maxAttempts: 1, initialDelayMs: 1_000, maxDelayMs: 1_000 } });
      let releaseTrial: () => void = () => undefined;
      upstream.handler = (req, res) => {
        if (upstream.calls <= 2) status(503)(req, res);
        else releaseTrial = () => ok(req, res);
      };
      const h = [c.json({ path: '/h1' }), c.json({ path: '/h2' })].map((call) => call.catch((error: unknown) => error));
      await until(() => c.resilience.snapshot().breaker === 'open', 'the breaker to open');
      await sleep(30);
      const q = problemOf(c.json({ path: '/q' }));
      assert.deepEqual(c.resilience.snapshot().bulkhead, { executing: 2, queued: 1, limit: 2 });
      await until(() => upstream.calls === 3, 'the trial to reach the upstream');
      const verdict = await Promise.race([q, sleep(3_000, 'still waiting', { ref: false })]);
      assert.ok(verdict instanceof FacetError, String(verdict));
      assert.equal(verdict.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      assert.equal(c.resilience.snapshot().breaker, 'half-open');
      releaseTrial();
      const outcomes = await Promise.all(h);
      assert.equal(outcomes.filter((o) => (o as { status?: number }).status === 200).length, 1, 'the trial succeeded');
      assert.equal(c.resilience.snapshot().breaker, 'closed');
      assert.equal(upstream.calls, 3);
    });

    it('a failed half-open trial opens it again (one call, no retry sequence)', async () => {
      const c = client({ breaker: { ...EAGER_BREAKER, halfOpenAfterMs: 100 } });
      await openBreaker(c);
      await sleep(150);
      const calls = upstream.calls;
      assert.equal((await problemOf(c.json({ path: '/x' }))).code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      assert.equal(upstream.calls, calls + 1);
      assert.equal(c.resilience.snapshot().breaker, 'open');
    });

    it('one breaker per upstream: CRM failing does not open the MES breaker', async () => {
      const crm = client({ breaker: EAGER_BREAKER });
      const mes = client({ breaker: EAGER_BREAKER });
      await openBreaker(crm);
      upstream.handler = ok;
      assert.equal((await mes.json({ path: '/x' })).status, 200);
      assert.equal(mes.resilience.snapshot().breaker, 'closed');
    });
  });

  describe('bulkhead', () => {
    it('overflow beyond limit + queue → 503 SATURATED at once, Retry-After 1', async () => {
      const metrics = createMetrics();
      const c = client({ bulkhead: { limit: 1, queue: 1 } }, metrics);
      const held: (() => void)[] = [];
      upstream.handler = (req, res) => held.push(() => ok(req, res));
      const first = c.json({ path: '/1' });
      const second = c.json({ path: '/2' });
      await until(() => upstream.calls === 1, 'the first call to arrive');
      assert.deepEqual(c.resilience.snapshot().bulkhead, { executing: 1, queued: 1, limit: 1 });
      const started = performance.now();
      const problem = await problemOf(c.json({ path: '/3' }));
      assert.ok(performance.now() - started < 50);
      assert.equal(problem.code, 'FACET_ERR_UPSTREAM_SATURATED');
      assert.equal(problem.statusCode, 503);
      assert.equal(problem.headers?.['retry-after'], '1');
      assert.equal(upstream.calls, 1, 'the queued call waits for a slot');
      held.shift()?.();
      assert.equal((await first).status, 200);
      await until(() => upstream.calls === 2, 'the queued call to run');
      held.shift()?.();
      assert.equal((await second).status, 200);
      assert.equal(await counter(metrics.upstreamBulkheadRejections, { upstream: 'crm' }), 1);
      assert.equal(await counter(metrics.upstreamRequests, { upstream: 'crm', outcome: 'saturated' }), 1);
    });
  });

  describe('failure classification', () => {
    it('breaker failures: connection errors, timeouts, 5xx; retryable: also 502/503/504, never a 500', () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      assert.ok(isUpstreamFailure(refused) && isRetryable(refused));
      assert.ok(isUpstreamFailure(new UpstreamStatusError('crm', 500)) && !isRetryable(new UpstreamStatusError('crm', 500)));
      for (const code of [502, 503, 504]) assert.ok(isRetryable(new UpstreamStatusError('crm', code)));
      assert.ok(!isUpstreamFailure(new CallerCancelledError('crm')));
      assert.ok(!isUpstreamFailure(new SyntaxError('Unexpected token')));
      assert.ok(!isUpstreamFailure(Object.assign(new Error('bad header'), { code: 'UND_ERR_INVALID_ARG' })));
    });
  });
});
