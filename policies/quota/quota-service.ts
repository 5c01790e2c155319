// Per-seller quotas with rate-limiter-flexible. Counters live in Redis
// (atomic Lua per limiter, shared by every replica); each Redis limiter has
// an in-process insurance limiter holding this replica's share, used the
// moment Redis errors, times out or is not connected. Without Redis (the
// embedded default) the in-process limiters are the store.

import type { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { QuotaSettings } from '../../gateway/config/types.ts';
import type { EffectiveLimits } from './limits.ts';

type Limiter = RateLimiterRedis | RateLimiterMemory;

export interface WindowState {
  name: 'rate' | 'burst' | 'daily';
  limit: number;
  windowSec: number;
  remaining: number;
  resetSec: number;
}

export interface QuotaDecision {
  allowed: boolean;
  /** The window that refused the request, if any. */
  exceeded?: 'rate' | 'daily';
  retryAfterSec: number;
  windows: WindowState[];
  store: 'redis' | 'insurance' | 'memory';
}

interface LimiterSet {
  rate: Limiter;
  burst: Limiter;
  bursty: BurstyRateLimiter;
  daily: Limiter;
  limits: EffectiveLimits;
}

const DAY_SEC = 86_400;

function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

export class QuotaService {
  private readonly sets = new Map<string, LimiterSet>();
  private readonly redis: Redis | undefined;
  private readonly settings: QuotaSettings;

  constructor(settings: QuotaSettings, redis: Redis | undefined) {
    this.settings = settings;
    this.redis = redis;
  }

  /** Which store answers right now; reported with each decision. */
  get store(): QuotaDecision['store'] {
    if (!this.redis) return 'memory';
    return this.redis.status === 'ready' ? 'redis' : 'insurance';
  }

  private limiter(keyPrefix: string, points: number, duration: number): Limiter {
    if (!this.redis) return new RateLimiterMemory({ keyPrefix, points, duration });
    return new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix,
      points,
      duration,
      // Fail over at once when the connection is down rather than waiting.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${keyPrefix}:ins`, points: Math.max(1, Math.floor(points * this.settings.insuranceShare)), duration }),
    });
  }

  /** Limiters are per distinct limits: plans, and sellers with overrides. */
  private setFor(limits: EffectiveLimits): LimiterSet {
    const signature = `${limits.rate.perSecond}/${limits.rate.burst}/${limits.rate.burstWindowSec}/${limits.dailyQuota}`;
    let set = this.sets.get(signature);
    if (!set) {
      const rate = this.limiter('facet:q:rate', limits.rate.perSecond, 1);
      const burst = this.limiter('facet:q:burst', Math.max(1, limits.rate.burst), limits.rate.burstWindowSec);
      set = { rate, burst, bursty: new BurstyRateLimiter(rate, burst), daily: this.limiter('facet:q:daily', limits.dailyQuota, DAY_SEC), limits };
      this.sets.set(signature, set);
    }
    return set;
  }

  /** Counts `cost` units for a seller; a Redis failure is never a refusal. */
  async consume(sellerId: string, limits: EffectiveLimits, cost: number): Promise<QuotaDecision> {
    const set = this.setFor(limits);
    const store = this.store;
    const burstAllowed = limits.rate.burst > 0;
    const [rate, daily] = await Promise.allSettled([
      burstAllowed ? set.bursty.consume(sellerId, cost) : set.rate.consume(sellerId, cost),
      set.daily.consume(sellerId, cost),
    ]);
    const rateRes = rate.status === 'fulfilled' ? rate.value : rate.reason;
    const dailyRes = daily.status === 'fulfilled' ? daily.value : daily.reason;
    const rateRejected = rate.status === 'rejected' && rateRes instanceof RateLimiterRes;
    const dailyRejected = daily.status === 'rejected' && dailyRes instanceof RateLimiterRes;
    let rateRefund = 0;
    let dailyRefund = 0;
    if (rateRejected || dailyRejected) {
      // A refused request hands its units back: to the windows that admitted
      // it, and to the refusing one when it costs more than one unit (so a
      // heavy request cannot eat what lighter ones could still use).
      if (rateRes instanceof RateLimiterRes && (!rateRejected || cost > 1)) rateRefund = cost;
      if (dailyRes instanceof RateLimiterRes && (!dailyRejected || cost > 1)) dailyRefund = cost;
      if (rateRefund) set.rate.reward(sellerId, rateRefund).catch(() => {});
      if (dailyRefund) set.daily.reward(sellerId, dailyRefund).catch(() => {});
    }
    const windows: WindowState[] = [];
    if (rateRes instanceof RateLimiterRes) {
      const remaining = Math.min(limits.rate.perSecond, rateRes.remainingPoints + (rateRejected ? 0 : rateRefund));
      windows.push({ name: 'rate', limit: limits.rate.perSecond, windowSec: 1, remaining, resetSec: seconds(rateRes.msBeforeNext) });
    }
    if (dailyRes instanceof RateLimiterRes) {
      const remaining = Math.min(limits.dailyQuota, Math.max(0, limits.dailyQuota - dailyRes.consumedPoints + dailyRefund));
      windows.push({ name: 'daily', limit: limits.dailyQuota, windowSec: DAY_SEC, remaining, resetSec: seconds(dailyRes.msBeforeNext) });
    }
    if (!rateRejected && !dailyRejected) return { allowed: true, retryAfterSec: 0, windows, store };
    const exceeded = dailyRejected ? 'daily' : 'rate';
    const refusing = (exceeded === 'daily' ? dailyRes : rateRes) as RateLimiterRes;
    return { allowed: false, exceeded, retryAfterSec: Math.max(1, seconds(refusing.msBeforeNext)), windows, store };
  }

  /** Current usage, read without counting (GET /v1/usage; its own quota step counts the call). */
  async usage(sellerId: string, limits: EffectiveLimits): Promise<WindowState[]> {
    const set = this.setFor(limits);
    const [rate, burst, daily] = await Promise.all([
      set.rate.get(sellerId).catch(() => null),
      set.burst.get(sellerId).catch(() => null),
      set.daily.get(sellerId).catch(() => null),
    ]);
    const state = (name: WindowState['name'], limit: number, windowSec: number, res: RateLimiterRes | null): WindowState => ({
      name,
      limit,
      windowSec,
      remaining: res ? Math.max(0, limit - res.consumedPoints) : limit,
      resetSec: res ? seconds(res.msBeforeNext) : 0,
    });
    return [
      state('rate', limits.rate.perSecond, 1, rate),
      state('burst', limits.rate.burst, limits.rate.burstWindowSec, burst),
      state('daily', limits.dailyQuota, DAY_SEC, daily),
    ];
  }
}

/** `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers): the quota policies that apply. */
export function rateLimitPolicyHeader(limits: EffectiveLimits): string {
  const items = [`"rate";q=${limits.rate.perSecond};w=1`];
  if (limits.rate.burst > 0) items.push(`"burst";q=${limits.rate.burst};w=${limits.rate.burstWindowSec}`);
  items.push(`"daily";q=${limits.dailyQuota};w=${DAY_SEC}`);
  return items.join(', ');
}

/** `RateLimit`: remaining units and seconds to reset, per window. */
export function rateLimitHeader(windows: readonly WindowState[]): string {
  return windows.map((w) => `"${w.name}";r=${w.remaining};t=${w.resetSec}`).join(', ');
}
