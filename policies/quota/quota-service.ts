// Per-seller quotas with rate-limiter-flexible. Counters live in Redis
// (atomic Lua per limiter, shared by every replica); each Redis limiter has
// an in-process insurance limiter holding this replica's share, used the
// moment Redis errors, times out or is not connected. Without Redis (the
// embedded default) the in-process limiters are the store.

import type { Redis } from 'ioredis';
import type { RedisClient } from '../../platform/redis.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { LeasedWindow } from './lease.ts';
import { leaseUnits, type QuotaSettings } from './settings.ts';
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
  daily: Limiter;
}

type WindowName = keyof Windows;

interface LimiterSet {
  primary: Windows;
  /** This replica's share, used when Redis errors, times out or is not connected. */
  insurance: Windows | undefined;
  limits: EffectiveLimits;
  /** Lease sizes of the rate and daily windows when both are leased (lease.ts); undefined: every request counts in Redis. */
  lease: { rate: number; daily: number } | undefined;
  /** Per seller, this replica's leased windows. */
  leased: Map<string, { rate: LeasedWindow; daily: LeasedWindow }>;
}

/** A window's outcome and the limiter that counted it (a refund goes back there). */
interface Counted {
  res: RateLimiterRes;
  rejected: boolean;
  counter: Limiter;
  failedOver: boolean;
}

const DAY_SEC = 86_400;

/** The quota section; without `lease`, every request is counted in Redis. */
export type QuotaServiceSettings = Omit<QuotaSettings, 'lease'> & Partial<Pick<QuotaSettings, 'lease'>>;

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

/** The limiters by limits: in-process counters live in them, so a config reload passes the same map on. */
export type LimiterSets = Map<string, unknown>;

export class QuotaService {
  private readonly sets: Map<string, LimiterSet>;
  private readonly redis: RedisClient | undefined;
  private readonly settings: QuotaServiceSettings;

  constructor(settings: QuotaServiceSettings, redis: RedisClient | undefined, sets: LimiterSets = new Map()) {
    this.settings = settings;
    this.redis = redis;
    this.sets = sets as Map<string, LimiterSet>;
  }

  /** Which store answers right now (connection state; a single timed-out call shows in its decision). */
  get store(): QuotaDecision['store'] {
    if (!this.redis) return 'memory';
    return this.redis.status === 'ready' ? 'redis' : 'insurance';
  }

  private windows(make: (keyPrefix: string, points: number, duration: number) => Limiter, limits: EffectiveLimits): Windows {
    const rate = make('facet:q:rate', limits.rate.perSecond, 1);
    const burst = make('facet:q:burst', Math.max(1, limits.rate.burst), limits.rate.burstWindowSec);
    return { rate, burst, daily: make('facet:q:daily', limits.dailyQuota, DAY_SEC) };
  }

  /** Limiters are per distinct limits: plans, and sellers with overrides. */
  private setFor(limits: EffectiveLimits): LimiterSet {
    // The insurance share sizes the insurance limiters: part of what a set is.
    const signature = `${limits.rate.perSecond}/${limits.rate.burst}/${limits.rate.burstWindowSec}/${limits.dailyQuota}/${this.settings.insuranceShare}`;
    let set = this.sets.get(signature);
    if (!set) {
      const redis = this.redis;
      const share = this.settings.insuranceShare;
      if (!redis) {
        set = { primary: this.windows((keyPrefix, points, duration) => new RateLimiterMemory({ keyPrefix, points, duration }), limits), insurance: undefined, limits, lease: undefined, leased: new Map() };
      } else {
        // The failover is ours rather than rate-limiter-flexible's
        // insuranceLimiter option, so each decision knows which store made it.
        set = {
          // rejectIfRedisNotReady: fail over at once while the connection is down.
          primary: this.windows((keyPrefix, points, duration) => new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration, rejectIfRedisNotReady: true }), limits),
          insurance: this.windows((keyPrefix, points, duration) => new RateLimiterMemory({ keyPrefix: `${keyPrefix}:ins`, points: Math.max(1, Math.floor(points * share)), duration }), limits),
          limits,
          lease: this.leaseSizes(limits),
          leased: new Map(),
        };
      }
      this.sets.set(signature, set);
    }
    return set;
  }

  /** Both windows leased, or neither: a lease of 0 or 1 unit is no lease. */
  private leaseSizes(limits: EffectiveLimits): LimiterSet['lease'] {
    const lease = this.settings.lease;
    if (!lease) return undefined;
    const rate = leaseUnits(lease, limits.plan, limits.rate.perSecond);
    const daily = leaseUnits(lease, limits.plan, limits.dailyQuota);
    return rate >= 2 && daily >= 2 ? { rate, daily } : undefined;
  }

  /** This replica's leased windows of a seller (the keys are the per-request limiters' own). */
  private leasedFor(set: LimiterSet, sizes: { rate: number; daily: number }, sellerId: string): { rate: LeasedWindow; daily: LeasedWindow } {
    let windows = set.leased.get(sellerId);
    if (!windows) {
      // One key per lease script: a Cluster client runs it on that key's master.
      const redis = this.redis as Redis;
      windows = {
        rate: new LeasedWindow(redis, `facet:q:rate:${counterKey(sellerId)}`, set.limits.rate.perSecond, 1000, sizes.rate),
        daily: new LeasedWindow(redis, `facet:q:daily:${counterKey(sellerId)}`, set.limits.dailyQuota, DAY_SEC * 1000, sizes.daily),
      };
      set.leased.set(sellerId, windows);
    }
    return windows;
  }

  /**
   * Leased counting: both windows spend this replica's units, leasing from
   * Redis only when they run short. The burst allowance (used once the rate
   * window refuses) is counted in Redis per request, as without leases.
   * Undefined when Redis failed or the request is refused: the caller counts
   * per request (failing over to the insurance limiters, or computing the
   * refusal's Retry-After over every window).
   */
  private async consumeLeased(set: LimiterSet, sizes: { rate: number; daily: number }, sellerId: string, cost: number): Promise<QuotaDecision | undefined> {
    const windows = this.leasedFor(set, sizes, sellerId);
    const limits = set.limits;
    let rate, daily;
    try {
      [rate, daily] = await Promise.all([windows.rate.spend(cost), windows.daily.spend(cost)]);
    } catch {
      return undefined;
    }
    let burstRes: RateLimiterRes | undefined;
    let rateAllowed = rate.allowed;
    if (!rateAllowed && limits.rate.burst > 0) {
      try {
        burstRes = await set.primary.burst.consume(counterKey(sellerId), cost);
        rateAllowed = true;
      } catch (reason) {
        if (!(reason instanceof RateLimiterRes)) {
          if (daily.allowed) windows.daily.giveBack(cost);
          return undefined;
        }
      }
    }
    if (rateAllowed && !daily.allowed) {
      // Refused by the day: the rate units go back to this replica's lease (or the burst allowance).
      if (burstRes) set.primary.burst.reward(counterKey(sellerId), cost).catch(() => {});
      else windows.rate.giveBack(cost);
    }
    if (!rateAllowed && daily.allowed) windows.daily.giveBack(cost);
    if (!rateAllowed || !daily.allowed) {
      // Refused: every unit is back where it came from; the per-request count
      // decides, so the refusal, its window and its Retry-After are exactly
      // those of the unleased path (refusals are rare: the extra round trip is cheap).
      return undefined;
    }
    const windowStates: WindowState[] = [
      { name: 'rate', limit: limits.rate.perSecond, windowSec: 1, remaining: rate.remaining, resetSec: seconds(rate.msBeforeNext) },
      { name: 'daily', limit: limits.dailyQuota, windowSec: DAY_SEC, remaining: daily.remaining, resetSec: seconds(daily.msBeforeNext) },
    ];
    return { allowed: true, retryAfterSec: 0, windows: windowStates, store: 'redis' };
  }

  /**
   * Counts one window: a `RateLimiterRes` rejection is a refusal; any other
   * error (Redis down, timed out) moves the count to the insurance limiter,
   * so a Redis failure is never reported as a quota decision.
   */
  private async count(set: LimiterSet, window: WindowName, sellerId: string, cost: number): Promise<Counted> {
    const attempt = async (w: Windows, failedOver: boolean): Promise<Counted> => {
      try {
        const res = await w[window].consume(counterKey(sellerId), cost);
        return { res, rejected: false, counter: w[window], failedOver };
      } catch (reason) {
        if (reason instanceof RateLimiterRes) return { res: reason, rejected: true, counter: w[window], failedOver };
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

  /**
   * Counts `cost` units for a seller: the rate window admits it, or else
   * the burst allowance does (rate-limiter-flexible's bursty semantics, done
   * here so every window's answer is known); the daily window must admit it too.
   */
  async consume(sellerId: string, limits: EffectiveLimits, cost: number): Promise<QuotaDecision> {
    const set = this.setFor(limits);
    if (set.lease && this.redis?.status === 'ready') {
      const leased = await this.consumeLeased(set, set.lease, sellerId, cost);
      if (leased) return leased;
    }
    const [rate, daily] = await Promise.all([this.count(set, 'rate', sellerId, cost), this.count(set, 'daily', sellerId, cost)]);
    // The burst allowance is drawn on only for what the rate window refused.
    const burst = rate.rejected && limits.rate.burst > 0 ? await this.count(set, 'burst', sellerId, cost) : undefined;
    const charged = [rate, daily, ...(burst ? [burst] : [])];
    const store: QuotaDecision['store'] = !set.insurance ? 'memory' : charged.some((c) => c.failedOver) ? 'insurance' : 'redis';
    const rateAdmitted = !rate.rejected || (burst !== undefined && !burst.rejected);
    const allowed = rateAdmitted && !daily.rejected;
    // A refused request hands its units back to every window that counted
    // them (a refusal counts too), so a heavy refused request cannot eat
    // what lighter ones could still use.
    const refund = allowed ? 0 : cost;
    if (refund) for (const c of charged) c.counter.reward(counterKey(sellerId), refund).catch(() => {});
    const remaining = (limit: number, c: Counted) => Math.min(limit, Math.max(0, limit - c.res.consumedPoints + refund));
    const windows: WindowState[] = [
      { name: 'rate', limit: limits.rate.perSecond, windowSec: 1, remaining: remaining(limits.rate.perSecond, rate), resetSec: seconds(rate.res.msBeforeNext) },
      { name: 'daily', limit: limits.dailyQuota, windowSec: DAY_SEC, remaining: remaining(limits.dailyQuota, daily), resetSec: seconds(daily.res.msBeforeNext) },
    ];
    if (allowed) return { allowed: true, retryAfterSec: 0, windows, store };
    return { allowed: false, exceeded: daily.rejected ? 'daily' : 'rate', retryAfterSec: retryAfterSec(limits, cost, { rate, burst, daily }), windows, store };
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
    // Units this replica leased and has not spent are counted in Redis but not used: the meter
    // follows this replica's requests one by one (other replicas' unspent leases still show as used).
    const leased = set.leased.get(sellerId);
    const state = (name: WindowState['name'], limit: number, windowSec: number, res: RateLimiterRes | null, unspent = 0): WindowState => ({
      name,
      limit,
      windowSec,
      remaining: res ? Math.min(limit, Math.max(0, limit - res.consumedPoints + unspent)) : limit,
      resetSec: res ? seconds(res.msBeforeNext) : 0,
    });
    return [
      state('rate', limits.rate.perSecond, 1, rate, leased?.rate.unspent()),
      state('burst', limits.rate.burst, limits.rate.burstWindowSec, burst),
      state('daily', limits.dailyQuota, DAY_SEC, daily, leased?.daily.unspent()),
    ];
  }
}

/**
 * Whole seconds after which a refused request of `cost` units would be
 * admitted: every window it needs must have room for the whole cost. The
 * rate window admits it after its reset only if the cost fits in it; else
 * the burst allowance must, after its own reset; the daily window must too.
 * A cost no window could ever hold waits for the daily reset (a plan
 * mistake, not something a retry fixes sooner).
 */
function retryAfterSec(limits: EffectiveLimits, cost: number, windows: { rate: Counted; burst: Counted | undefined; daily: Counted }): number {
  const { rate, burst, daily } = windows;
  const after = (c: Counted, limit: number): number => (!c.rejected ? 0 : cost <= limit ? c.res.msBeforeNext : Infinity);
  let rateMs = after(rate, limits.rate.perSecond);
  if (burst) rateMs = Math.min(rateMs, after(burst, limits.rate.burst));
  const dailyMs = after(daily, limits.dailyQuota);
  const waitMs = Math.max(rateMs, dailyMs);
  const ms = Number.isFinite(waitMs) ? waitMs : Math.max(daily.res.msBeforeNext, 1000);
  return Math.max(1, Math.ceil(ms / 1000));
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
