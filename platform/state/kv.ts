// Small shared state the write path keeps (model ownership, quotes,
// idempotency records): Redis when configured, else in process. Unlike the
// cache, errors here propagate: a write that cannot be recorded is refused
// (503), never half-done.

import type { RedisClient } from '../redis.ts';
import { LRUCache } from 'lru-cache';
import { FacetError } from '../errors/facet-error.ts';

export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSec: number): Promise<void>;
  /** Sets only when absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSec: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Members of a time-bounded set: adds `member` until `expiresAt` (ms), returns the live count. */
  addUntil(key: string, member: string, expiresAt: number): Promise<number>;
  removeMember(key: string, member: string): Promise<void>;
  countLive(key: string): Promise<number>;
  /** When the earliest live member of a time-bounded set expires (ms), if it has any. */
  nextExpiry(key: string): Promise<number | undefined>;
}

function unavailable(error: unknown): FacetError {
  return new FacetError('FACET_ERR_STATE_UNAVAILABLE', { headers: { 'retry-after': '2' }, cause: error });
}

export class RedisKeyValueStore implements KeyValueStore {
  private readonly redis: RedisClient;
  constructor(redis: RedisClient) {
    this.redis = redis;
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.redis.status !== 'ready') throw unavailable(new Error(`redis ${this.redis.status}`));
    try {
      return await operation();
    } catch (error) {
      throw unavailable(error);
    }
  }

  get(key: string): Promise<string | null> {
    return this.run(() => this.redis.get(key));
  }
  async set(key: string, value: string, ttlSec: number): Promise<void> {
    await this.run(() => this.redis.set(key, value, 'EX', ttlSec));
  }
  async setIfAbsent(key: string, value: string, ttlSec: number): Promise<boolean> {
    return (await this.run(() => this.redis.set(key, value, 'EX', ttlSec, 'NX'))) === 'OK';
  }
  async delete(key: string): Promise<void> {
    await this.run(() => this.redis.del(key));
  }
  async addUntil(key: string, member: string, expiresAt: number): Promise<number> {
    const now = Date.now();
    const result = await this.run(() =>
      this.redis.multi().zremrangebyscore(key, '-inf', now).zadd(key, expiresAt, member).zcount(key, now, '+inf').pexpire(key, Math.max(1, expiresAt - now)).exec(),
    );
    return Number(result?.[2]?.[1] ?? 0);
  }
  async removeMember(key: string, member: string): Promise<void> {
    await this.run(() => this.redis.zrem(key, member));
  }
  async countLive(key: string): Promise<number> {
    const now = Date.now();
    return this.run(() => this.redis.zcount(key, now, '+inf'));
  }
  async nextExpiry(key: string): Promise<number | undefined> {
    const now = Date.now();
    const first = await this.run(() => this.redis.zrangebyscore(key, `(${now}`, '+inf', 'WITHSCORES', 'LIMIT', 0, 1));
    return first[1] === undefined ? undefined : Number(first[1]);
  }
}

export class MemoryKeyValueStore implements KeyValueStore {
  private readonly values = new LRUCache<string, string>({ max: 100_000 });
  private readonly sets = new Map<string, Map<string, number>>();

  async get(key: string): Promise<string | null> {
    return this.values.get(key) ?? null;
  }
  async set(key: string, value: string, ttlSec: number): Promise<void> {
    this.values.set(key, value, { ttl: ttlSec * 1000 });
  }
  async setIfAbsent(key: string, value: string, ttlSec: number): Promise<boolean> {
    if (this.values.has(key)) return false;
    this.values.set(key, value, { ttl: ttlSec * 1000 });
    return true;
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
  private live(key: string): Map<string, number> {
    const now = Date.now();
    const members = this.sets.get(key) ?? new Map<string, number>();
    for (const [member, until] of members) if (until <= now) members.delete(member);
    this.sets.set(key, members);
    return members;
  }
  async addUntil(key: string, member: string, expiresAt: number): Promise<number> {
    const members = this.live(key);
    members.set(member, expiresAt);
    return members.size;
  }
  async removeMember(key: string, member: string): Promise<void> {
    this.live(key).delete(member);
  }
  async countLive(key: string): Promise<number> {
    return this.live(key).size;
  }
  async nextExpiry(key: string): Promise<number | undefined> {
    const expiries = [...this.live(key).values()];
    return expiries.length === 0 ? undefined : Math.min(...expiries);
  }
}
