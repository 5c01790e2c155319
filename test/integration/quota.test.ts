// Quotas against the real Redis: exact limits, windows, cost weights, the
// insurance limiter during a Redis outage, and key-guessing throttling.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';
import { clearRedis, CuttableProxy, REDIS_URL } from '../helpers/redis.ts';

const FREE = { 'X-API-Key': 'demo-free-key' };
const PRO = { 'X-API-Key': 'demo-pro-key' };
const ENTERPRISE = { 'X-API-Key': 'demo-enterprise-key' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function burst(stack: Stack, path: string, headers: Record<string, string>, n: number) {
  return Promise.all(Array.from({ length: n }, () => request(stack.url).get(path).set(headers)));
}

function statuses(responses: { status: number }[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of responses) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

describe('quotas on the shared Redis', () => {
  let stack: Stack;
  before(async () => {
    await clearRedis();
    stack = await startStack({
      redisUrl: REDIS_URL,
      mutateConfig: (doc) => {
        doc.plans.free.rate = { perSecond: 5, burst: 3, burstWindowSec: 30 };
        doc.plans.free.dailyQuota = 1000;
        doc.consumers[1].overrides = { rate: { perSecond: 10, burst: 0 }, dailyQuota: 6 };
        doc.pipelines.sellerUsage.policies[1].quota.action.cost = 4;
      },
    });
  });
  after(() => stack.close());

  it('the N+1-th request in a window is 429 with Retry-After and RateLimit headers; burst counts', async () => {
    const responses = await burst(stack, '/v1/materials', FREE, 9);
    assert.deepEqual(statuses(responses), { 200: 8, 429: 1 });
    const ok = responses.find((r) => r.status === 200);
    assert.equal(ok?.headers['ratelimit-policy'], '"rate";q=5;w=1, "burst";q=3;w=30, "daily";q=1000;w=86400');
    assert.match(ok?.headers.ratelimit ?? '', /^"rate";r=\d+;t=[01], "daily";r=99\d;t=\d+$/);
    const refused = responses.find((r) => r.status === 429);
    assert.ok(refused);
    const body = assertProblem(refused, 429, 'FACET_ERR_QUOTA_EXCEEDED');
    assert.match(String(body.detail), /5 units per second/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.match(refused.headers.ratelimit ?? '', /"rate";r=0;/);
    assert.ok(refused.headers['ratelimit-policy']);
  });

  it('the rate window resets; the burst allowance does not until its own window ends', async () => {
    await sleep(1100);
    const responses = await burst(stack, '/v1/materials', FREE, 7);
    assert.deepEqual(statuses(responses), { 200: 5, 429: 2 });
  });

  it('cost weights count: a 4-unit operation uses 4 units', async () => {
    // slr_0002 has its own override: 10 units/s, no burst, 6 units a day.
    const first = await request(stack.url).get('/v1/usage').set(PRO).expect(200);
    assert.equal(first.body.plan, 'standard');
    const rate = first.body.windows.find((w: { name: string }) => w.name === 'rate');
    assert.deepEqual({ limit: rate.limit, used: rate.used }, { limit: 10, used: 4 });
    // 4 more units would fit the second (10/s) but not the day (6): refused, and both windows get the 4 units back.
    const second = await request(stack.url).get('/v1/usage').set(PRO);
    assertProblem(second, 429, 'FACET_ERR_QUOTA_EXCEEDED');
    assert.match(String(second.body.detail), /daily quota/);
  });

  it('a 429 does not count against the day: reads of cost 1 are still allowed up to the daily quota', async () => {
    await sleep(1100);
    const read = await request(stack.url).get('/v1/materials').set(PRO);
    // 4 units used by the admitted usage call, the refused one's were handed back: 2 units left today.
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.match(read.headers.ratelimit ?? '', /"daily";r=1;/);
    await request(stack.url).get('/v1/materials').set(PRO).expect(200);
    const over = await request(stack.url).get('/v1/materials').set(PRO);
    assertProblem(over, 429, 'FACET_ERR_QUOTA_EXCEEDED');
  });

  it('one seller’s flood never costs another seller a 429', async () => {
    const flood = burst(stack, '/v1/materials', FREE, 200);
    const normal: number[] = [];
    for (let i = 0; i < 10; i++) {
      normal.push((await request(stack.url).get('/v1/orders?limit=1').set(ENTERPRISE)).status);
      await sleep(20);
    }
    await flood;
    assert.deepEqual(normal, Array(10).fill(200));
  });
});

describe('Redis outage: the insurance limiter takes over, then shared limits resume', () => {
  let stack: Stack;
  const proxy = new CuttableProxy();
  before(async () => {
    await clearRedis();
    await proxy.start();
    stack = await startStack({
      redisUrl: proxy.url,
      mutateConfig: (doc) => {
        doc.plans.free.rate = { perSecond: 10, burst: 0 };
        doc.quota.insuranceShare = 0.3;
      },
    });
    // Wait for the connection.
    for (let i = 0; i < 50 && stack.gateway.services.redis?.status !== 'ready'; i++) await sleep(50);
  });
  after(async () => {
    await stack.close();
    await proxy.cut();
  });

  it('with Redis up, 10 per second are admitted', async () => {
    await sleep(1100);
    assert.deepEqual(statuses(await burst(stack, '/v1/materials', FREE, 14)), { 200: 10, 429: 4 });
  });

  it('with Redis gone, this replica admits its share (30% → 3 per second), never 5xx, never everyone refused', async () => {
    await proxy.cut();
    await sleep(1100);
    const started = performance.now();
    const responses = await burst(stack, '/v1/materials', FREE, 14);
    const elapsed = performance.now() - started;
    assert.deepEqual(statuses(responses), { 200: 3, 429: 11 });
    assert.ok(elapsed < 2000, `decisions took ${elapsed} ms`);
    const ready = await request(stack.url).get('/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.checks.redis.status, 'down');
    assert.equal(ready.body.checks.redis.required, false);
  });

  it('Redis back: shared limits resume without a restart', async () => {
    await proxy.restore();
    for (let i = 0; i < 100 && stack.gateway.services.redis?.status !== 'ready'; i++) await sleep(50);
    assert.equal(stack.gateway.services.redis?.status, 'ready');
    await sleep(1100);
    assert.deepEqual(statuses(await burst(stack, '/v1/materials', FREE, 14)), { 200: 10, 429: 4 });
  });
});

describe('key guessing is throttled per client address', () => {
  let stack: Stack;
  before(async () => {
    await clearRedis();
    stack = await startStack({ redisUrl: REDIS_URL, mutateConfig: (doc) => (doc.quota.invalidKeyAttempts = 5) });
  });
  after(() => stack.close());

  function fromAddress(localAddress: string, key: string): Promise<{ status: number; body: string }> {
    const { port } = new URL(stack.url);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/materials', localAddress, headers: { 'X-API-Key': key } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('after 5 unknown keys the address is blocked, even for a correct key; other addresses are not touched', async () => {
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push((await fromAddress('127.0.0.2', `guess-${i}`)).status);
    assert.deepEqual(guesses, [401, 401, 401, 401, 401, 429]);
    const blocked = await fromAddress('127.0.0.2', 'demo-enterprise-key');
    assert.equal(blocked.status, 429);
    assert.equal(JSON.parse(blocked.body).code, 'FACET_ERR_AUTH_THROTTLED');
    const elsewhere = await fromAddress('127.0.0.3', 'demo-enterprise-key');
    assert.equal(elsewhere.status, 200);
  });
});

describe('key guessing behind a proxy (http.trustProxy)', () => {
  let stack: Stack;
  before(async () => {
    await clearRedis();
    // 127.0.0.4 plays nginx: only it is trusted to name the client.
    stack = await startStack({ redisUrl: REDIS_URL, mutateConfig: (doc) => ((doc.quota.invalidKeyAttempts = 3), (doc.http.trustProxy = '127.0.0.4')) });
  });
  after(() => stack.close());

  function via(localAddress: string, forwardedFor: string, key: string): Promise<number> {
    const { port } = new URL(stack.url);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/materials', localAddress, headers: { 'X-API-Key': key, 'X-Forwarded-For': forwardedFor } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('throttles the client named by the trusted proxy, not the proxy and not its other clients', async () => {
    const guesses = [];
    for (let i = 0; i < 4; i++) guesses.push(await via('127.0.0.4', '203.0.113.7', `guess-${i}`));
    assert.deepEqual(guesses, [401, 401, 401, 429]);
    assert.equal(await via('127.0.0.4', '203.0.113.7', 'demo-enterprise-key'), 429);
    assert.equal(await via('127.0.0.4', '203.0.113.8', 'demo-enterprise-key'), 200, 'another client behind the same proxy');
  });

  it('an untrusted peer cannot choose its address with X-Forwarded-For', async () => {
    const guesses = [];
    for (let i = 0; i < 4; i++) guesses.push(await via('127.0.0.5', `198.51.100.${i}`, `guess-${i}`));
    assert.deepEqual(guesses, [401, 401, 401, 429]);
  });
});
