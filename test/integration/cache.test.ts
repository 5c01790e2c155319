// The read cache against the real Redis and simulators: isolation between
// sellers, coalescing, stale serving, ETags, generations, refresh-ahead.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import request from 'supertest';
import { clearRedis, CuttableProxy, REDIS_URL } from '../helpers/redis.ts';
import type { CacheService } from '../../policies/cache/cache-service.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const FREE = { 'X-API-Key': 'demo-free-key' };
const ENTERPRISE = { 'X-API-Key': 'demo-enterprise-key' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await sleep(100)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
  }
}
/** The cache policy's service in a running gateway. */
const cacheOf = (stack: Stack) => stack.gateway.policies.built.get('cache')?.service as CacheService;

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
function roomyLimits(doc: Doc): void {
  for (const plan of Object.values(doc.plans) as Doc[]) plan.rate = { perSecond: 5000, burst: 5000 };
}

describe('read cache (Redis)', () => {
  let stack: Stack;
  before(async () => {
    await clearRedis();
    stack = await startStack({
      redisUrl: REDIS_URL,
      mutateConfig: (doc) => {
        roomyLimits(doc);
        // The 500-client burst below runs in this process: its own event-loop
        // lag would trip the gateway's process guard, which is not under test here.
        doc.shedding.enabled = false;
        doc.pipelines.sellerReads.policies[1].cache.action = { scope: 'seller', freshSec: 2, staleWhileRevalidateSec: 2, staleIfErrorSec: 60 };
      },
    });
  });
  afterEach(() => stack.crm.faults.reset());
  after(() => stack.close());

  it('a repeated read is a hit: no upstream call, ETag, private max-age, Cache-Status', async () => {
    const first = await request(stack.url).get('/v1/orders?limit=5').set(PRO).expect(200);
    assert.match(first.headers['cache-status'] ?? '', /fwd=miss/);
    const calls = stack.crm.requests.get('GET /crm/orders');
    const second = await request(stack.url).get('/v1/orders?limit=5').set(PRO).expect(200);
    assert.equal(stack.crm.requests.get('GET /crm/orders'), calls);
    assert.match(second.headers['cache-status'] ?? '', /^facet; hit; ttl=\d/);
    assert.equal(second.headers.etag, first.headers.etag);
    assert.match(second.headers['cache-control'] ?? '', /^private, max-age=[0-2]$/);
    assert.deepEqual(second.body, first.body);
    assert.ok(second.headers.ratelimit, 'a cache hit still counts against the quota');
  });

  it('If-None-Match → 304 without a body', async () => {
    const first = await request(stack.url).get('/v1/orders?limit=3').set(PRO).expect(200);
    const again = await request(stack.url).get('/v1/orders?limit=3').set(PRO).set('If-None-Match', first.headers.etag ?? '').expect(304);
    assert.equal(again.text, '');
    assert.equal(again.headers.etag, first.headers.etag);
  });

  it('seller A never gets seller B’s cached data, whatever the query string', async () => {
    const queries = ['/v1/orders', '/v1/orders?limit=20', '/v1/orders?status=CLOSED', '/v1/orders?limit=20&status=CLOSED'];
    for (const q of queries) {
      const a = await request(stack.url).get(q).set(PRO).expect(200);
      const b = await request(stack.url).get(q).set(FREE).expect(200);
      const b2 = await request(stack.url).get(q).set(FREE).expect(200);
      const aIds = new Set(a.body.items.map((o: { id: string }) => o.id));
      assert.ok(b.body.items.length > 0);
      for (const o of [...b.body.items, ...b2.body.items]) assert.ok(!aIds.has(o.id), `${q}: ${o.id} leaked`);
      for (const o of b2.body.items) assert.equal(stack.crm.store.getOrder(o.id)?.seller_id, 'slr_0001');
    }
    const aOrder = (await request(stack.url).get('/v1/orders?limit=1').set(PRO).expect(200)).body.items[0].id;
    await request(stack.url).get(`/v1/orders/${aOrder}`).set(PRO).expect(200);
    assertProblem(await request(stack.url).get(`/v1/orders/${aOrder}`).set(FREE), 404, 'FACET_ERR_NOT_FOUND');
  });

  it('500 concurrent requests for one cold key make exactly one upstream call', async () => {
    await stack.crm.faults.set({ latency_ms: 200 });
    const before = stack.crm.requests.get('GET /crm/orders');
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 500 }, () => request(stack.url).get('/v1/orders?limit=7&status=SHIPPED').set(ENTERPRISE)));
    const elapsedMs = performance.now() - started;
    assert.deepEqual([...new Set(responses.map((r) => r.status))], [200], JSON.stringify(responses.find((r) => r.status !== 200)?.body));
    const statuses = responses.map((r) => r.headers['cache-status'] ?? '');
    assert.equal(statuses.filter((s) => /fwd=miss; stored$/.test(s)).length, 1, 'one request fetched; the others waited for it or hit');
    // This suite's entries are fresh for 2 s: a busy machine can stretch the burst past that, and
    // then one background refresh per expiry is expected, not a stampede.
    const stale = statuses.filter((s) => /stale-while-revalidate/.test(s)).length;
    const refreshes = stack.crm.requests.get('GET /crm/orders') - before - 1;
    if (stale === 0) assert.equal(refreshes, 0);
    else assert.ok(refreshes <= Math.ceil(elapsedMs / 2000), `${refreshes} refreshes in ${Math.round(elapsedMs)} ms`);
    if (stale === 0) assert.equal(new Set(responses.map((r) => r.headers.etag)).size, 1);
  });

  it('stale-while-revalidate: an expired entry is served at once and refreshed behind it', async () => {
    await request(stack.url).get('/v1/orders?limit=4').set(PRO).expect(200);
    await sleep(2200);
    await stack.crm.faults.set({ latency_ms: 300 });
    const started = performance.now();
    const stale = await request(stack.url).get('/v1/orders?limit=4').set(PRO).expect(200);
    assert.ok(performance.now() - started < 250, 'served without waiting for the CRM');
    assert.match(stale.headers['cache-status'] ?? '', /detail=stale-while-revalidate/);
    await sleep(500);
    const fresh = await request(stack.url).get('/v1/orders?limit=4').set(PRO).expect(200);
    assert.match(fresh.headers['cache-status'] ?? '', /^facet; hit; ttl=[12]$/);
  });

  it('stale-if-error: CRM down → cached reads answer 200 marked stale with their age; uncached reads fail', async () => {
    const first = await request(stack.url).get('/v1/orders?limit=6').set(PRO).expect(200);
    await stack.crm.faults.set({ down: true });
    await sleep(4500); // past fresh + stale-while-revalidate
    const stale = await request(stack.url).get('/v1/orders?limit=6').set(PRO).expect(200);
    assert.match(stale.headers['cache-status'] ?? '', /ttl=-\d+; detail=stale-if-error/);
    assert.ok(Number(stale.headers.age) >= 4);
    assert.deepEqual(stale.body, first.body);
    assertProblem(await request(stack.url).get('/v1/orders?limit=9').set(PRO), 503, 'FACET_ERR_UPSTREAM_UNAVAILABLE');
    await stack.crm.faults.set({ down: false });
    const back = await request(stack.url).get('/v1/orders?limit=6').set(PRO).expect(200);
    assert.match(back.headers['cache-status'] ?? '', /fwd=miss/);
  });

  it('a generation bump drops every page of a seller at once, on every replica', async () => {
    const scope = 'seller:slr_0002';
    await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    const hit = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    assert.match(hit.headers['cache-status'] ?? '', /hit/);
    // A second gateway on the same Redis sees the bump through pub/sub.
    const other = await startStack({ redisUrl: REDIS_URL, mutateConfig: roomyLimits });
    try {
      await request(other.url).get('/v1/orders?limit=2').set(PRO).expect(200);
      await cacheOf(stack).generations.bump(scope);
      await sleep(100);
      const after1 = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
      assert.match(after1.headers['cache-status'] ?? '', /fwd=miss/);
      const after2 = await request(other.url).get('/v1/orders?limit=2').set(PRO).expect(200);
      assert.match(after2.headers['cache-status'] ?? '', /hit/, JSON.stringify(after2.headers));
    } finally {
      await other.close();
    }
  });
});

describe('dashboard: refresh-ahead and MES outage', () => {
  let stack: Stack;
  before(async () => {
    await clearRedis();
    stack = await startStack({
      redisUrl: REDIS_URL,
      mesDashboardLatency: { baseMs: 400, perOrderMs: 0 },
      mutateConfig: (doc) => {
        doc.pipelines.operatorDashboard.policies[1].cache.action.freshSec = 2;
        doc.serviceEndpoints.mes.timeoutMs = 1000;
      },
    });
  });
  after(() => stack.close());

  it('the first page is warm before any operator asks, and answers without waiting on the MES', async () => {
    // Refresh-ahead fills the first pages on its own (a busy machine may take a while: wait for it, not a fixed time).
    const refreshed = async () => (await cacheOf(stack).outcomes.get()).values.filter((v) => v.labels.outcome === 'refreshed').reduce((n, v) => n + v.value, 0);
    for (let i = 0; i < 150 && (await refreshed()) < 5; i++) await sleep(100); // the five pages of refreshAhead
    const res = await request(stack.url).get('/internal/v1/dashboard/orders').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
    // A hit is answered from the cache: the 400 ms MES query was not waited for (no timing asserted).
    assert.match(res.headers['cache-status'] ?? '', /hit/);
    assert.equal(res.body.items.length, 50);
    const filtered = await request(stack.url).get('/internal/v1/dashboard/orders?status=SUBMITTED').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
    assert.match(filtered.headers['cache-status'] ?? '', /hit/);
  });

  it('an order event bumps the dashboard generation: the previous page answers at once as stale while the new one is fetched', async () => {
    // A page outside refresh-ahead, so only operators' requests fill it.
    const page = () => request(stack.url).get('/internal/v1/dashboard/orders?status=CLOSED').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
    const warm = await page();
    assert.match(warm.headers['cache-status'] ?? '', /fwd=miss/);
    await cacheOf(stack).generations.bump('dashboard');
    for (let i = 0; i < 3; i++) {
      const answer = await page();
      // Served stale from the previous generation, so the 400 ms MES query was not waited for.
      assert.match(answer.headers['cache-status'] ?? '', /detail=stale-while-revalidate/);
      assert.equal(answer.headers.etag, warm.headers.etag);
    }
    // The one fetch behind those answers fills the new generation (400 ms MES query).
    let refreshed = await page();
    for (let i = 0; i < 50 && !/^facet; hit; ttl=\d+$/.test(refreshed.headers['cache-status'] ?? ''); i++) {
      await sleep(100);
      refreshed = await page();
    }
    assert.match(refreshed.headers['cache-status'] ?? '', /^facet; hit; ttl=\d+$/, 'the new generation holds the page');
    assert.ok(Number(refreshed.headers.age) <= 1);
  });

  it('sellers keep read-your-writes: after a bump of their generation, a plain miss', async () => {
    const first = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    await cacheOf(stack).generations.bump('seller:slr_0002');
    const after = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    assert.match(first.headers['cache-status'] ?? '', /fwd=miss/);
    assert.match(after.headers['cache-status'] ?? '', /fwd=miss/);
  });

  it('MES hard down: the dashboard keeps answering 200, marked stale', async () => {
    await stack.mes.faults.set({ down: true });
    await sleep(2500);
    const res = await request(stack.url).get('/internal/v1/dashboard/orders').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
    assert.match(res.headers['cache-status'] ?? '', /hit/);
    await stack.mes.faults.reset();
  });
});

describe('answers outside the upstream contract are never cached', () => {
  let stack: Stack;
  let garbled = false;
  let crmCalls = 0;
  // In front of the CRM simulator: forwards, or answers a well-formed JSON 200 of the wrong shape.
  const front = createServer((req, res) => {
    crmCalls++;
    if (garbled) {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [{ id: 'ord_garbled00', seller_id: 'slr_0002' }], next_cursor: 7 }));
      return;
    }
    fetch(`${stack.crm.url}${req.url}`, { headers: { accept: 'application/json' } })
      .then(async (upstream) => res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(await upstream.text()))
      .catch(() => res.writeHead(599).end());
  });

  before(async () => {
    await clearRedis();
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const { port } = front.address() as AddressInfo;
    stack = await startStack({
      redisUrl: REDIS_URL,
      mutateConfig: (doc) => {
        roomyLimits(doc);
        doc.serviceEndpoints.crm.url = `http://127.0.0.1:${port}`;
        doc.pipelines.sellerReads.policies[1].cache.action = { scope: 'seller', freshSec: 1, staleWhileRevalidateSec: 1, staleIfErrorSec: 60 };
      },
    });
  });
  afterEach(() => {
    garbled = false;
  });
  after(async () => {
    await stack?.close();
    front.closeAllConnections();
    await new Promise<void>((resolve) => front.close(() => resolve()));
  });

  it('a wrong-shaped answer is a 502, stored nowhere: once the CRM answers well, the same read fetches again', async () => {
    garbled = true;
    let calls = crmCalls;
    assertProblem(await request(stack.url).get('/v1/orders?limit=3').set(PRO), 502, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
    assertProblem(await request(stack.url).get('/v1/orders?limit=3').set(PRO), 502, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
    assert.equal(crmCalls, calls + 2, 'one call each: an answer outside the contract is not retried');
    garbled = false;
    calls = crmCalls;
    const good = await request(stack.url).get('/v1/orders?limit=3').set(PRO).expect(200);
    assert.match(good.headers['cache-status'] ?? '', /fwd=miss/);
    assert.equal(crmCalls, calls + 1);
    assert.equal(good.body.items.length, 3);
    assert.ok(good.body.items.every((o: { id: string }) => o.id !== 'ord_garbled00'));
  });

  it('stale-if-error covers it: a cached page answers 200 marked stale; an uncached read is a 502', async () => {
    const first = await request(stack.url).get('/v1/orders?limit=5').set(PRO).expect(200);
    await sleep(2200); // past fresh + stale-while-revalidate
    garbled = true;
    const stale = await request(stack.url).get('/v1/orders?limit=5').set(PRO).expect(200);
    assert.match(stale.headers['cache-status'] ?? '', /detail=stale-if-error/);
    assert.deepEqual(stale.body, first.body);
    assertProblem(await request(stack.url).get('/v1/orders?limit=8').set(PRO), 502, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
    garbled = false;
    const back = await request(stack.url).get('/v1/orders?limit=5').set(PRO).expect(200);
    assert.match(back.headers['cache-status'] ?? '', /fwd=miss/);
    assert.deepEqual(back.body, first.body);
  });
});

describe('read cache without Redis (embedded default)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  it('uses the in-process LRU with the same semantics', async () => {
    await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    const hit = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    assert.match(hit.headers['cache-status'] ?? '', /hit/);
    assert.equal(cacheOf(stack).store.kind, 'memory');
  });
});

describe('read cache with Redis down', () => {
  let stack: Stack;
  const proxy = new CuttableProxy();
  before(async () => {
    await clearRedis();
    await proxy.start();
    stack = await startStack({ redisUrl: proxy.url, mutateConfig: roomyLimits });
  });
  after(async () => {
    await stack.close();
    await proxy.cut();
  });

  it('reads go straight to the upstream and keep working; no 5xx from the cache; the cache resumes when Redis is back', async () => {
    await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    await proxy.cut();
    await sleep(200);
    const before = stack.crm.requests.get('GET /crm/orders');
    for (let i = 0; i < 5; i++) {
      const res = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
      assert.equal(res.headers['cache-status'], undefined, 'answered without the cache');
    }
    assert.equal(stack.crm.requests.get('GET /crm/orders') - before, 5);
    await proxy.restore();
    for (let i = 0; i < 100 && stack.gateway.services.redis?.status !== 'ready'; i++) await sleep(50);
    await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    const hit = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    assert.match(hit.headers['cache-status'] ?? '', /hit/);
  });

  it('Redis away and the CRM failing: a page this replica fetched before answers from its own memory, marked stale-if-error; a page never fetched fails', async () => {
    const fresh = await request(stack.url).get('/v1/orders?limit=4').set(PRO).expect(200);
    await proxy.cut();
    await sleep(200);
    await stack.crm.faults.set({ down: true });
    try {
      const stale = await request(stack.url).get('/v1/orders?limit=4').set(PRO).expect(200);
      assert.match(stale.headers['cache-status'] ?? '', /detail=stale-if-error/);
      assert.deepEqual(stale.body, fresh.body);
      const never = await request(stack.url).get('/v1/orders?limit=6').set(PRO);
      assert.ok([502, 503].includes(never.status), `upstream failure answered ${never.status}`);
      assert.match(never.headers['content-type'] ?? '', /^application\/problem\+json/);
      // Another seller's page with the same query is never served from this memory.
      const other = await request(stack.url).get('/v1/orders?limit=4').set(FREE);
      assert.ok([502, 503].includes(other.status), `another seller answered ${other.status}`);
    } finally {
      await stack.crm.faults.reset();
      await proxy.restore();
      // Every connection back (cache, state, feed reader, generation subscriber) before the suite closes them.
      await waitUntil(() => request(stack.url).get('/v1/orders?limit=4').set(PRO).then((r) => /hit/.test(r.headers['cache-status'] ?? '')));
    }
  });
});
