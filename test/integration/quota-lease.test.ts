// Quota leases against the real Redis: a replica spends units it leased in
// advance, so most requests make no Redis call; the counter is still the
// shared one (usage reads it), a window refuses past its limit, and a Redis
// failure falls back to per-request counting and the insurance limiter.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createRedis } from '../../platform/redis.ts';
import type { EffectiveLimits } from '../../platform/pipeline/plan-limits.ts';
import { QuotaService } from '../../policies/quota/quota-service.ts';
import { leaseUnits, type LeaseSettings } from '../../policies/quota/settings.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

const LEASE: LeaseSettings = { share: 0.05, minLimit: 40, maxUnits: 100, plans: {} };
const limits = (perSecond: number, dailyQuota: number, burst = 0): EffectiveLimits => ({
  plan: 'standard',
  tier: 'paid',
  rate: { perSecond, burst, burstWindowSec: 10 },
  dailyQuota,
  concurrentPriceJobs: 1,
  uploadMaxBytes: 1024,
});

describe('quota leases', () => {
  let redis: Redis;
  let scripts = 0;
  before(async () => {
    await clearRedis();
    redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2000 }) as Redis;
    for (let i = 0; i < 100 && redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    // Every quota call to Redis is a script (the lease's, or rate-limiter-flexible's): count them.
    for (const name of ['evalsha', 'eval'] as const) {
      const original = redis[name].bind(redis) as (...args: unknown[]) => Promise<unknown>;
      (redis as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        scripts++;
        return original(...args);
      };
    }
  });
  after(() => redis.disconnect());

  it('lease sizes: 5% of the limit, at most maxUnits, none under minLimit, a plan may set its own', () => {
    assert.equal(leaseUnits(LEASE, 'standard', 50), 2);
    assert.equal(leaseUnits(LEASE, 'standard', 1000), 50);
    assert.equal(leaseUnits(LEASE, 'standard', 200_000), 100);
    assert.equal(leaseUnits(LEASE, 'free', 5), 0);
    assert.equal(leaseUnits({ ...LEASE, plans: { standard: 7 } }, 'standard', 1000), 7);
  });

  it('1,000 requests on one replica: a Redis call every few dozen, all counted in the shared keys', async () => {
    const quota = new QuotaService({ insuranceShare: 0.34, redisTimeoutMs: 2000, lease: LEASE }, redis);
    const planLimits = limits(10_000, 1_000_000);
    const before = scripts;
    for (let i = 0; i < 1000; i++) {
      const decision = await quota.consume('slr_lease_a', planLimits, 1);
      assert.equal(decision.allowed, true);
      assert.equal(decision.store, 'redis');
    }
    const calls = scripts - before;
    // Leases of 100 units, two windows: about 20 calls (a window boundary adds a few).
    assert.ok(calls <= 60, `${calls} Redis calls for 1,000 requests`);
    const usage = await quota.usage('slr_lease_a', planLimits);
    const daily = usage.find((w) => w.name === 'daily')!;
    const used = planLimits.dailyQuota - daily.remaining;
    assert.ok(used >= 1000 && used <= 1000 + 100, `the shared daily counter holds what was leased: ${used}`);
  });

  it('2,000 concurrent requests far under the limit are all admitted (waiting on one lease never turns into a refusal)', async () => {
    const quota = new QuotaService({ insuranceShare: 0.34, redisTimeoutMs: 2000, lease: LEASE }, redis);
    const planLimits = limits(1_000_000_000, 1_000_000_000);
    const decisions = await Promise.all(Array.from({ length: 2000 }, () => quota.consume('slr_lease_d', planLimits, 1)));
    assert.deepEqual(
      decisions.filter((d) => !d.allowed).map((d) => d.exceeded),
      [],
    );
  });

  it('a window refuses past its limit: never more admitted than the limit in one window, 429 details intact', async () => {
    const quota = new QuotaService({ insuranceShare: 0.34, redisTimeoutMs: 2000, lease: LEASE }, redis);
    // 40 a day (lease 2): the day is the window that runs out here.
    const planLimits = limits(1000, 40);
    const decisions = [];
    for (let i = 0; i < 60; i++) decisions.push(await quota.consume('slr_lease_b', planLimits, 1));
    const admitted = decisions.filter((d) => d.allowed).length;
    assert.equal(admitted, 40, 'one replica spends every unit it leased');
    const refused = decisions.find((d) => !d.allowed)!;
    assert.equal(refused.exceeded, 'daily');
    assert.ok(refused.retryAfterSec >= 1);
    assert.equal(refused.windows.find((w) => w.name === 'daily')!.remaining, 0);
  });

  it('Redis failing: per-request counting and the insurance limiter decide, never a 5xx', async () => {
    const broken = createRedis({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 50 });
    try {
      const quota = new QuotaService({ insuranceShare: 0.5, redisTimeoutMs: 50, lease: LEASE }, broken);
      const decision = await quota.consume('slr_lease_c', limits(1000, 100_000), 1);
      assert.equal(decision.allowed, true);
      assert.equal(decision.store, 'insurance');
    } finally {
      broken.disconnect();
    }
  });
});
