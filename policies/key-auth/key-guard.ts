// Slows API-key guessing: unknown keys are counted per client address in
// the shared limiter store; past the limit the address is blocked, and a
// blocked address is refused before any key is checked, so guessing gets
// no answers. Valid keys cost nothing here (no Redis call on that path).

import type { RedisClient } from '../../platform/redis.ts';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { KeyGuardSettings } from './settings.ts';

export class KeyGuard {
  private readonly limiter: RateLimiterRedis | RateLimiterMemory;
  /** Addresses this replica knows are blocked, until when (ms). */
  private readonly blocked = new Map<string, number>();

  constructor(settings: KeyGuardSettings, redis: RedisClient | undefined) {
    const options = {
      keyPrefix: 'facet:authfail',
      points: settings.invalidKeyAttempts,
      duration: settings.invalidKeyWindowSec,
      blockDuration: settings.invalidKeyBlockSec,
    };
    this.limiter = redis
      ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(options) })
      : new RateLimiterMemory(options);
  }

  /** Seconds until the address may try again, or 0 when it is not blocked. */
  blockedFor(address: string): number {
    const until = this.blocked.get(address);
    if (until === undefined) return 0;
    const left = until - Date.now();
    if (left <= 0) {
      this.blocked.delete(address);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  /** Records a failed attempt; returns seconds blocked (0 when still allowed). */
  async recordFailure(address: string): Promise<number> {
    try {
      await this.limiter.consume(address);
      return 0;
    } catch (result) {
      if (!(result instanceof RateLimiterRes)) return 0; // store trouble is not a verdict
      const ms = result.msBeforeNext > 0 ? result.msBeforeNext : 1000;
      this.blocked.set(address, Date.now() + ms);
      if (this.blocked.size > 100_000) this.blocked.delete(this.blocked.keys().next().value as string);
      return Math.ceil(ms / 1000);
    }
  }
}
