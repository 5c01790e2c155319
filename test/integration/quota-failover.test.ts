// The quota failover, call by call: a Redis call that times out (Redis
// paused, not gone) is decided by the insurance limiter and reported as
// such; the next call that Redis answers is counted in Redis again.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import type { EffectiveLimits } from '../../platform/pipeline/plan-limits.ts';
import { QuotaService } from '../../policies/quota/quota-service.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

const limits: EffectiveLimits = {
  plan: 'free',
  tier: 'free',
  rate: { perSecond: 1000, burst: 0, burstWindowSec: 1 },
  dailyQuota: 10,
  concurrentPriceJobs: 1,
  uploadMaxBytes: 1024,
};

describe('quota store failover per call', () => {
  let redis: RedisClient;
  let admin: Redis;
  before(async () => {
    await clearRedis();
    redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 50 });
    admin = new Redis(REDIS_URL);
    for (let i = 0; i < 50 && redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
  });
  after(async () => {
    await admin.call('CLIENT', 'UNPAUSE');
    redis.disconnect();
    admin.disconnect();
  });

  it('a timed-out Redis call is decided by the insurance share, and Redis counts again once it answers', async () => {
    const quota = new QuotaService({ insuranceShare: 0.5, redisTimeoutMs: 50 }, redis);
    const first = await quota.consume('slr_failover', limits, 1);
    assert.equal(first.store, 'redis');
    assert.equal(first.allowed, true);

    // Scripts block while writes are paused: the calls time out.
    await admin.call('CLIENT', 'PAUSE', '2000', 'WRITE');
    const during = [];
    for (let i = 0; i < 7; i++) during.push(await quota.consume('slr_failover', limits, 1));
    assert.ok(
      during.every((d) => d.store === 'insurance'),
      `stores: ${during.map((d) => d.store).join(',')}`,
    );
    // The insurance share of a daily quota of 10 at 50% is 5 on this replica.
    assert.deepEqual(
      during.map((d) => d.allowed),
      [true, true, true, true, true, false, false],
    );
    assert.equal(during[5]!.exceeded, 'daily');

    await admin.call('CLIENT', 'UNPAUSE');
    const back = await quota.consume('slr_failover', limits, 1);
    assert.equal(back.store, 'redis');
    assert.equal(back.allowed, true);
    // Timed-out calls may still have run in Redis once it resumed: Redis has
    // seen at least the two answered calls.
    const daily = back.windows.find((w) => w.name === 'daily')!;
    assert.ok(daily.remaining <= 8, `remaining ${daily.remaining}`);
  });
});
