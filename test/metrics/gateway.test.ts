// The gateway's /metrics after real traffic: RED series by route template
// and plan (admitted, unmatched 404, 429, 5xx from a failing CRM, an
// operator), the gateway's overhead and upstream durations, no seller or
// order id anywhere, and both exposition formats valid per promtool, the
// OpenMetrics one with trace exemplars.
//
//   npx node --import tsx --test test/metrics/gateway.test.ts

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startStack, type Stack } from '../helpers/stack.ts';
import { OPENMETRICS_ACCEPT, parseSamples, promtoolCheck, promtoolCheckOpenMetrics, sumOf, traceEveryRequest, valueOf, type Sample } from './helpers.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' }; // slr_0002, plan standard
const FREE = { 'X-API-Key': 'demo-free-key' }; // slr_0001, plan free
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const DURATION = 'facet_http_request_duration_seconds_count';

describe('gateway /metrics', () => {
  let stack: Stack;
  let orderId: string;
  let classic: string;
  let samples: Sample[];

  before(async () => {
    stack = await startStack({
      mutateConfig: (doc) => {
        doc.plans.free.rate = { perSecond: 2, burst: 0 };
        doc.plans.free.dailyQuota = 1000;
      },
    });
    traceEveryRequest(stack.gateway.app.server, TRACE_ID);
    const list = await request(stack.url).get('/v1/orders?limit=1').set(PRO).expect(200);
    orderId = list.body.items[0].id as string;
    await request(stack.url).get(`/v1/orders/${orderId}`).set(PRO).expect(200);
    await request(stack.url).get(`/v1/orders/${orderId}`).set(PRO).expect(200); // a cache hit: no upstream time
    await request(stack.url).get('/no/such/route').expect(404);
    await request(stack.url).get('/v1/orders?limit=1').expect(401);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(stack.url).get('/v1/materials').set(FREE)).status);
    assert.ok(statuses.includes(429), `expected a 429 among ${statuses.join(',')}`);
    await request(stack.url).get('/internal/v1/dashboard/orders?limit=5').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
    await stack.crm.faults.set({ error_rate: 1 });
    try {
      await request(stack.url).get('/v1/orders/ord_notcached0001').set(PRO).expect(502);
    } finally {
      await stack.crm.faults.set({ error_rate: 0 });
    }
    const res = await request(stack.url).get('/metrics').expect(200);
    assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    classic = res.text;
    samples = parseSamples(classic);
  });
  after(() => stack?.close());

  it('counts each answer by route template, method, status and plan', () => {
    assert.equal(valueOf(samples, DURATION, { route: '/v1/orders/:id', method: 'GET', status: '200', plan: 'standard' }), 2);
    assert.equal(valueOf(samples, DURATION, { route: '/v1/orders', method: 'GET', status: '200', plan: 'standard' }), 1);
    assert.equal(valueOf(samples, DURATION, { route: 'unmatched', method: 'GET', status: '404', plan: 'none' }), 1);
    assert.equal(valueOf(samples, DURATION, { route: '/v1/orders', status: '401', plan: 'none' }), 1);
    assert.ok(valueOf(samples, DURATION, { route: '/v1/materials', status: '429', plan: 'free' }) >= 1);
    assert.ok(valueOf(samples, DURATION, { route: '/v1/materials', status: '200', plan: 'free' }) >= 1);
    assert.equal(valueOf(samples, DURATION, { route: '/internal/v1/dashboard/orders', status: '200', plan: 'operator' }), 1);
    assert.equal(valueOf(samples, DURATION, { route: '/v1/orders/:id', status: '502', plan: 'standard' }), 1);
    // Buckets are cumulative and end at +Inf = count.
    const inf = valueOf(samples, 'facet_http_request_duration_seconds_bucket', { route: '/v1/orders/:id', status: '200', plan: 'standard', le: '+Inf' });
    assert.equal(inf, 2);
  });

  it('reports the gateway overhead below the whole duration, and upstream calls by outcome', () => {
    const route = { route: '/v1/orders/:id' };
    assert.equal(valueOf(samples, 'facet_gateway_overhead_seconds_count', route), 3);
    const overhead = valueOf(samples, 'facet_gateway_overhead_seconds_sum', route);
    const total = sumOf(samples, 'facet_http_request_duration_seconds_sum', route);
    assert.ok(overhead > 0 && overhead < total, `overhead ${overhead} s should be below the total ${total} s`);
    assert.ok(valueOf(samples, 'facet_upstream_request_duration_seconds_count', { upstream: 'crm', outcome: 'ok' }) >= 2);
    assert.equal(valueOf(samples, 'facet_upstream_request_duration_seconds_count', { upstream: 'crm', outcome: 'server_error' }), 1);
    assert.ok(valueOf(samples, 'facet_upstream_request_duration_seconds_count', { upstream: 'mes', outcome: 'ok' }) >= 1);
  });

  it('keeps the existing decision counters', () => {
    assert.ok(valueOf(samples, 'facet_quota_decisions_total', { plan: 'free', outcome: 'rejected', window: 'rate', store: 'memory' }) >= 1);
    assert.ok(valueOf(samples, 'facet_auth_failures_total', { reason: 'missing_key' }) >= 1);
    assert.ok(sumOf(samples, 'facet_cache_requests_total', { route: 'GET /v1/orders/:id', outcome: 'hit' }) >= 1);
  });

  it('shows the load shedder: each upstream\'s adaptive limit, slots in flight, its RTTs and the event-loop delay', () => {
    for (const upstream of ['crm', 'mes']) {
      const limit = valueOf(samples, 'facet_shed_concurrency_limit', { upstream });
      assert.ok(limit >= 1, `${upstream} limit ${limit}`);
      assert.ok(samples.some((s) => s.name === 'facet_shed_inflight' && s.labels.upstream === upstream), `no facet_shed_inflight for ${upstream}`);
      assert.equal(valueOf(samples, 'facet_shed_inflight', { upstream }), 0);
    }
    // The CRM answered reads above: its RTT averages are learned, in seconds.
    const baseline = valueOf(samples, 'facet_shed_rtt_baseline_seconds', { upstream: 'crm' });
    assert.ok(baseline > 0 && baseline < 5, `crm baseline ${baseline} s`);
    assert.ok(valueOf(samples, 'facet_shed_rtt_recent_seconds', { upstream: 'crm' }) > 0);
    assert.ok(valueOf(samples, 'facet_shed_event_loop_delay_seconds', {}) >= 0);
  });

  it('never shows a seller id, an order id or a raw URL', async () => {
    const openMetrics = (await request(stack.url).get('/metrics').set('Accept', OPENMETRICS_ACCEPT)).text;
    for (const text of [classic, openMetrics]) {
      assert.ok(!text.includes(orderId), 'an order id in /metrics');
      assert.ok(!text.includes('ord_notcached0001'), 'an order id in /metrics');
      assert.ok(!/slr_\d+/.test(text), 'a seller id in /metrics');
      assert.ok(!text.includes('/no/such/route'), 'a raw URL in /metrics');
      assert.ok(!text.includes('?limit'), 'a query string in /metrics');
    }
  });

  it('serves the classic format that promtool accepts, without exemplars', async () => {
    assert.ok(!classic.includes('trace_id'), 'exemplars belong to OpenMetrics only');
    await promtoolCheck(classic);
  });

  it('serves OpenMetrics with trace exemplars when asked, which Prometheus parses', async () => {
    const res = await request(stack.url).get('/metrics').set('Accept', OPENMETRICS_ACCEPT).expect(200);
    assert.match(res.headers['content-type'] as string, /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok(res.text.endsWith('# EOF\n'));
    const om = parseSamples(res.text);
    const withExemplar = om.filter((s) => s.name === 'facet_http_request_duration_seconds_bucket' && s.exemplar);
    assert.ok(withExemplar.length > 0, 'no exemplar on the request histogram');
    assert.ok(withExemplar.every((s) => s.exemplar?.trace_id === TRACE_ID));
    assert.ok(om.some((s) => s.name === 'facet_gateway_overhead_seconds_bucket' && s.exemplar?.trace_id === TRACE_ID));
    // Counters keep their _total samples in OpenMetrics, and the classic format is unchanged after it.
    assert.ok(om.some((s) => s.name === 'facet_quota_decisions_total'));
    assert.match(res.text, /^# TYPE facet_quota_decisions counter$/m);
    await promtoolCheckOpenMetrics(res.text);
    const again = await request(stack.url).get('/metrics').expect(200);
    assert.match(again.text, /^# TYPE facet_quota_decisions_total counter$/m);
    await promtoolCheck(again.text);
  });
});
