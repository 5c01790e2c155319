// Upstream resilience end to end: the real simulators and the gateway, the
// MES taken down and brought back with fault injection. The dashboard's
// cache step is removed so every answer shows what the resilience layer did.
//
//   npx node --import tsx --test test/integration/resilience.test.ts

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const DASHBOARD = '/internal/v1/dashboard/orders?limit=10';
const MES_TIMEOUT_MS = 1_000;
const HALF_OPEN_AFTER_MS = 500;

interface DashboardOrder {
  order_id: string;
  operator_id: string | null;
}

describe('upstream resilience against the real simulators', () => {
  let stack: Stack;
  const dashboard = () => request(stack.url).get(DASHBOARD).set('Authorization', `Bearer ${stack.operatorToken}`);

  /** Dashboard requests until the MES breaker opens; every answer on the way is a 503 problem. */
  async function tripBreaker(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const res = await dashboard();
      assert.equal(res.status >= 500, true, `expected an upstream problem, got ${res.status}`);
      if (res.body.code === 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN') return;
    }
    assert.fail('the MES breaker did not open');
  }

  /** After halfOpenAfter, one trial call closes the breaker again: poll (generously) for a 200. */
  async function untilRecovered(): Promise<request.Response> {
    await sleep(HALF_OPEN_AFTER_MS);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await dashboard();
      if (res.status === 200 || Date.now() > deadline) return res;
      await sleep(100);
    }
  }

  before(async () => {
    stack = await startStack({
      mutateConfig: (doc) => {
        doc.serviceEndpoints.mes.timeoutMs = MES_TIMEOUT_MS;
        doc.serviceEndpoints.mes.resilience = {
          retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 50 },
          breaker: { samplingDurationMs: 2_000, minimumRps: 1, halfOpenAfterMs: HALF_OPEN_AFTER_MS },
        };
        const pipeline = doc.pipelines.operatorDashboard as { policies: Record<string, unknown>[] };
        pipeline.policies = pipeline.policies.filter((step) => !('cache' in step));
      },
    });
  });
  afterEach(async () => {
    await Promise.all([stack.crm.faults.reset(), stack.mes.faults.reset()]);
    // Leave the breaker closed for the next test.
    const res = await untilRecovered();
    assert.equal(res.status, 200);
  });
  after(() => stack.close());

  it('/readyz reports each upstream breaker and bulkhead next to the existing fields', async () => {
    const ready = await request(stack.url).get('/readyz').expect(200);
    assert.equal(ready.body.status, 'ready');
    for (const name of ['crm', 'mes']) {
      const check = ready.body.checks[name];
      assert.equal(check.status, 'up');
      assert.equal(typeof check.required, 'boolean');
      assert.equal(typeof check.latency_ms, 'number');
      assert.equal(check.breaker, 'closed');
      assert.deepEqual(check.bulkhead, { executing: 0, queued: 0, limit: 128 });
    }
  });

  it('MES hard down: the breaker opens and answers fast; MES back: fresh data without a restart', async () => {
    const before = await dashboard().expect(200);
    const target = (before.body.items as DashboardOrder[]).find((o) => o.operator_id === null);
    assert.ok(target, 'an untaken order on the first page');

    await stack.mes.faults.set({ down: true });
    await tripBreaker();

    const durations: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await dashboard();
      durations.push(performance.now() - started);
      assertProblem(res, 503, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      const retryAfter = Number(res.headers['retry-after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${res.headers['retry-after']}`);
    }
    durations.sort((a, b) => a - b);
    const p99 = durations[durations.length - 1] ?? Infinity;
    assert.ok(p99 < MES_TIMEOUT_MS / 5, `p99 ${p99.toFixed(1)} ms, timeout ${MES_TIMEOUT_MS} ms`);

    const ready = await request(stack.url).get('/readyz').expect(200); // the MES is optional
    assert.equal(ready.body.checks.mes.breaker, 'open');
    assert.equal(ready.body.checks.mes.status, 'down');
    assert.equal(ready.body.checks.mes.required, false);
    assert.equal(ready.body.checks.crm.breaker, 'closed', 'one breaker per upstream');
    await request(stack.url).get('/v1/orders').set('X-API-Key', 'demo-pro-key').expect(200);

    const metrics = await request(stack.url).get('/metrics').expect(200);
    assert.match(metrics.text, /facet_upstream_breaker_state\{upstream="mes"\} 2/);
    assert.match(metrics.text, /facet_upstream_breaker_transitions_total\{upstream="mes",to="open"\} [1-9]/);
    assert.match(metrics.text, /facet_upstream_requests_total\{upstream="mes",outcome="circuit_open"\} [1-9]/);
    assert.match(metrics.text, /facet_upstream_retries_total\{upstream="mes"\} [1-9]/);

    // The MES changes while it is unreachable; once back, the dashboard shows the change.
    assert.equal(stack.mes.store.orders.take(target.order_id, 'op_resilience').ok, true);
    await stack.mes.faults.set({ down: false });
    const back = await untilRecovered();
    assert.equal(back.status, 200, JSON.stringify(back.body));
    const fresh = (back.body.items as DashboardOrder[]).find((o) => o.order_id === target.order_id);
    assert.equal(fresh?.operator_id, 'op_resilience');
    const readyAgain = await request(stack.url).get('/readyz').expect(200);
    assert.equal(readyAgain.body.checks.mes.breaker, 'closed');
    assert.equal(readyAgain.body.checks.mes.status, 'up');
  });

  it('MES hanging: after a few timeouts the breaker answers at once instead of after the timeout', async () => {
    await stack.mes.faults.set({ hang: true });
    const started = performance.now();
    await tripBreaker();
    assert.ok(performance.now() - started < 30_000);
    const calls = stack.mes.requests.total;
    const durations: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      assertProblem(await dashboard(), 503, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      durations.push(performance.now() - t);
    }
    assert.ok(Math.max(...durations) < MES_TIMEOUT_MS / 5, `slowest ${Math.max(...durations).toFixed(1)} ms`);
    assert.equal(stack.mes.requests.total, calls, 'no call reached the MES while the breaker was open');
  });

  it('pass-through (/v1/materials) shares the MES breaker: open → 503 CIRCUIT_OPEN without calling the MES', async () => {
    await stack.mes.faults.set({ down: true });
    await tripBreaker();
    const res = await request(stack.url).get('/v1/materials').set('X-API-Key', 'demo-pro-key');
    assertProblem(res, 503, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
    assert.ok(Number(res.headers['retry-after']) >= 1);
  });
});
