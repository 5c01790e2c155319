// Heavy requests (a cost above the per-second rate, admitted only by the
// burst allowance): Retry-After must be the time after which the request is
// really admitted, and a refusal hands its units back to every window that
// counted them (issue 15, item 12).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { QuotaService } from '../../policies/quota/quota-service.ts';
import type { EffectiveLimits } from '../../platform/pipeline/plan-limits.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

const FREE = { 'X-API-Key': 'demo-free-key' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('heavy requests and the burst window (Redis)', () => {
  let stack: Stack;
  before(async () => {
    await clearRedis();
    stack = await startStack({
      redisUrl: REDIS_URL,
      mutateConfig: (doc) => {
        // The free plan's shape with a short burst window: 5/s, 10 extra per 5 s; a usage read costs 10 (as a quote).
        doc.plans.free.rate = { perSecond: 5, burst: 10, burstWindowSec: 5 };
        doc.plans.free.dailyQuota = 1000;
        doc.pipelines.sellerUsage.policies[1].quota.action.cost = 10;
      },
    });
  });
  after(() => stack.close());

  it('a refused heavy request waits the announced Retry-After and is then admitted', async () => {
    await request(stack.url).get('/v1/usage').set(FREE).expect(200); // the burst allowance pays for it
    const refused = await request(stack.url).get('/v1/usage').set(FREE);
    assertProblem(refused, 429, 'FACET_ERR_QUOTA_EXCEEDED');
    const wait = Number(refused.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 5, `Retry-After ${refused.headers['retry-after']} is within the burst window`);
    await sleep(wait * 1000);
    const admitted = await request(stack.url).get('/v1/usage').set(FREE);
    assert.equal(admitted.status, 200, `admitted after waiting Retry-After: ${wait} s (got ${admitted.status}, Retry-After ${admitted.headers['retry-after']})`);
  });
});

describe('refunds reach every window that counted a refused request', () => {
  const limits: EffectiveLimits = { plan: 'test', tier: 'free', rate: { perSecond: 1, burst: 6, burstWindowSec: 60 }, dailyQuota: 1000, concurrentPriceJobs: 1, uploadMaxBytes: 1 };

  it('a refused heavy request leaves the burst allowance to lighter requests', async () => {
    const quota = new QuotaService({ insuranceShare: 0.34, redisTimeoutMs: 100 }, undefined);
    const seller = 'slr_refund';
    assert.equal((await quota.consume(seller, limits, 1)).allowed, true); // the rate window
    assert.equal((await quota.consume(seller, limits, 1)).allowed, true); // the burst allowance: 1 of 6
    assert.equal((await quota.consume(seller, limits, 1)).allowed, true); // 2 of 6
    const heavy = await quota.consume(seller, limits, 5); // 7 > 6: refused, its 5 units handed back
    assert.equal(heavy.allowed, false);
    const light = await Promise.all(Array.from({ length: 4 }, () => quota.consume(seller, limits, 1)));
    assert.deepEqual(
      light.map((d) => d.allowed),
      [true, true, true, true],
      'the 4 units the burst allowance still holds go to lighter requests',
    );
  });

  it('Retry-After of a request only the burst allowance can admit is the burst window’s reset, not the rate’s', async () => {
    const quota = new QuotaService({ insuranceShare: 0.34, redisTimeoutMs: 100 }, undefined);
    const seller = 'slr_wait';
    assert.equal((await quota.consume(seller, limits, 6)).allowed, true);
    const refused = await quota.consume(seller, limits, 6);
    assert.equal(refused.allowed, false);
    assert.ok(refused.retryAfterSec > 50, `Retry-After ${refused.retryAfterSec} s: the burst window (60 s) must reset first`);
  });
});
