// Per-seller quotas with rate-limiter-flexible. Counters live in Redis
// (atomic Lua per limiter, shared by every replica); each Redis limiter has
// an in-process insurance limiter holding this replica's share, used the
// moment Redis errors, times out or is not connected. Without Redis (the
// embedded default) the in-process limiters are the store.

import type { RedisClient } from '../../platform/redis.ts';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { QuotaSettings } from './settings.ts';
import type { EffectiveLimits } from '../../platform/pipeline/plan-limits.ts';

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
  /** The store that decided: `insurance` when any window failed over from Redis for this request. */
  store: 'redis' | 'insurance' | 'memory';
}

/** One store's limiters for one set of limits. */
interface Windows {
  rate: Limiter;
  burst: Limiter;
  bursty: BurstyRateLimiter;
  daily: Limiter;
}

interface LimiterSet {
  primary: Windows;
  /** This replica's share, used when Redis errors, times out or is not connected. */
  insurance: Windows | undefined;
  limits: EffectiveLimits;
}

/** A window's outcome and the limiter that counted it (a refund goes back there). */
interface Counted {
  res: RateLimiterRes;
  rejected: boolean;
  counter: Limiter;
  failedOver: boolean;
}

const DAY_SEC = 86_400;

function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/**
 * A seller's counter key inside each window's prefix: `facet:q:rate:{slr_0002}`,
 * `facet:q:burst:{slr_0002}`, `facet:q:daily:{slr_0002}`. The hash tag puts
 * one seller's windows in one Redis Cluster slot, so they live on one master
 * and fail over together: a decision never mixes a counter that answered
 * with one that failed over to the insurance limiter.
 */
export function counterKey(sellerId: string): string {
  return `{${sellerId}}`;
}

export class QuotaService {
  private readonly sets = new Map<string, LimiterSet>();
  private readonly redis: RedisClient | undefined;
  private readonly settings: QuotaSettings;

  constructor(settings: QuotaSettings, redis: RedisClient | undefined) {
    this.settings = settings;
    this.redis = redis;
  }

  /** Which store answers right now (connection state; a single timed-out call shows in its decision). */
  get store(): QuotaDecision['store'] {
    if (!this.redis) return 'memory';
    return this.redis.status === 'ready' ? 'redis' : 'insurance';
  }

  private windows(make: (keyPrefix: string, points: number, duration: number) => Limiter, limits: EffectiveLimits): Windows {
    const rate = make('facet:q:rate', limits.rate.perSecond, 1);
    const burst = make('facet:q:burst', Math.max(1, limits.rate.burst), limits.rate.burstWindowSec);
    return { rate, burst, bursty: new BurstyRateLimiter(rate, burst), daily: make('facet:q:daily', limits.dailyQuota, DAY_SEC) };
  }

  /** Limiters are per distinct limits: plans, and sellers with overrides. */
  private setFor(limits: EffectiveLimits): LimiterSet {
    const signature = `${limits.rate.perSecond}/${limits.rate.burst}/${limits.rate.burstWindowSec}/${limits.dailyQuota}`;
    let set = this.sets.get(signature);
    if (!set) {
      const redis = this.redis;
      const share = this.settings.insuranceShare;
      if (!redis) {
        set = { primary: this.windows((keyPrefix, points, duration) => new RateLimiterMemory({ keyPrefix, points, duration }), limits), insurance: undefined, limits };
      } else {
        // The failover is ours rather than rate-limiter-flexible's
        // insuranceLimiter option, so each decision knows which store made it.
        set = {
          // rejectIfRedisNotReady: fail over at once while the connection is down.
          primary: this.windows((keyPrefix, points, duration) => new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, rejectIfRedisNotReady: true }), limits),
          insurance: this.windows((keyPrefix, points, duration) => new RateLimiterMemory({ keyPrefix: `${keyPrefix}:ins`, points: Math.max(1, Math.floor(points * share)), duration }), limits),
          limits,
        };
      }
      this.sets.set(signature, set);
    }
    return set;
  }

  /**
   * Counts one window: a `RateLimiterRes` rejection is a refusal; any other
   * error (Redis down, timed out) moves the count to the insurance limiter,
   * so a Redis failure is never reported as a quota decision.
   */
  private async count(set: LimiterSet, window: 'rate' | 'bursty' | 'daily', sellerId: string, cost: number): Promise<Counted> {
    const counterOf = (w: Windows): Limiter => (window === 'daily' ? w.daily : w.rate);
    const attempt = async (w: Windows, failedOver: boolean): Promise<Counted> => {
      try {
        const res = await w[window].consume(counterKey(sellerId), cost);
        return { res, rejected: false, counter: counterOf(w), failedOver };
      } catch (reason) {
        if (reason instanceof RateLimiterRes) return { res: reason, rejected: true, counter: counterOf(w), failedOver };
        throw reason;
      }
    };
    try {
      return await attempt(set.primary, false);
    } catch (error) {
      if (!set.insurance) throw error;
      return attempt(set.insurance, true);
    }
  }

  /** Counts `cost` units for a seller against its rate (with burst) and daily windows. */
  async consume(sellerId: string, limits: EffectiveLimits, cost: number): Promise<QuotaDecision> {
    const set = this.setFor(limits);
    const [rate, daily] = await Promise.all([this.count(set, limits.rate.burst > 0 ? 'bursty' : 'rate', sellerId, cost), this.count(set, 'daily', sellerId, cost)]);
    const store: QuotaDecision['store'] = !set.insurance ? 'memory' : rate.failedOver || daily.failedOver ? 'insurance' : 'redis';
    let rateRefund = 0;
    let dailyRefund = 0;
    if (rate.rejected || daily.rejected) {
      // A refused request hands its units back: to the windows that admitted
      // it, and to the refusing one when it costs more than one unit (so a
      // heavy request cannot eat what lighter ones could still use).
      if (!rate.rejected || cost > 1) rateRefund = cost;
      if (!daily.rejected || cost > 1) dailyRefund = cost;
      if (rateRefund) rate.counter.reward(counterKey(sellerId), rateRefund).catch(() => {});
      if (dailyRefund) daily.counter.reward(counterKey(sellerId), dailyRefund).catch(() => {});
    }
    const windows: WindowState[] = [
      { name: 'rate', limit: limits.rate.perSecond, windowSec: 1, remaining: Math.min(limits.rate.perSecond, rate.res.remainingPoints + (rate.rejected ? 0 : rateRefund)), resetSec: seconds(rate.res.msBeforeNext) },
      {
        name: 'daily',
        limit: limits.dailyQuota,
        windowSec: DAY_SEC,
        remaining: Math.min(limits.dailyQuota, Math.max(0, limits.dailyQuota - daily.res.consumedPoints + dailyRefund)),
        resetSec: seconds(daily.res.msBeforeNext),
      },
    ];
    if (!rate.rejected && !daily.rejected) return { allowed: true, retryAfterSec: 0, windows, store };
    const exceeded = daily.rejected ? 'daily' : 'rate';
    const refusing = exceeded === 'daily' ? daily.res : rate.res;
    return { allowed: false, exceeded, retryAfterSec: Math.max(1, seconds(refusing.msBeforeNext)), windows, store };
  }

  /** Current usage, read without counting (GET /v1/usage; its own quota step counts the call). */
  async usage(sellerId: string, limits: EffectiveLimits): Promise<WindowState[]> {
    const set = this.setFor(limits);
    // Redis first; while it fails, the insurance counts this replica holds.
    const read = (pick: (w: Windows) => Limiter) =>
      pick(set.primary)
        .get(counterKey(sellerId))
        .catch(() => (set.insurance ? pick(set.insurance).get(counterKey(sellerId)).catch(() => null) : null));
    const [rate, burst, daily] = await Promise.all([read((w) => w.rate), read((w) => w.burst), read((w) => w.daily)]);
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
