// The shared cache in Redis. Generation bumps are published on a channel so
// every replica's in-process view of generations changes at once.

import { duplicateRedis, type RedisClient } from '../../platform/redis.ts';
import { decodeEntry, encodeEntry, type CacheEntry, type CacheStore } from './store.ts';

const CHANNEL = 'facet:cache:generations';

export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis' as const;
  private readonly redis: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly listeners: ((scope: string, generation: number) => void)[] = [];

  constructor(redis: RedisClient) {
    this.redis = redis;
    this.subscriber = duplicateRedis(redis, { enableOfflineQueue: true });
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, message: string) => {
      const at = message.lastIndexOf(':');
      const generation = Number(message.slice(at + 1));
      if (at > 0 && Number.isInteger(generation)) for (const listener of this.listeners) listener(message.slice(0, at), generation);
    });
    this.subscriber.subscribe(CHANNEL).catch(() => {});
  }

  get available(): boolean {
    return this.redis.status === 'ready';
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    if (!this.available) return undefined;
    try {
      const raw = await this.redis.get(key);
      return raw === null ? undefined : decodeEntry(raw);
    } catch {
      return undefined;
    }
  }

  async set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    if (!this.available) return;
    await this.redis.set(key, encodeEntry(entry), 'PX', Math.max(1, Math.round(ttlMs))).catch(() => {});
  }

  async readGeneration(scope: string): Promise<number> {
    if (!this.available) return 0;
    try {
      return Number((await this.redis.get(`facet:gen:${scope}`)) ?? 0);
    } catch {
      return 0;
    }
  }

  async bumpGeneration(scope: string): Promise<number> {
    const generation = await this.redis.incr(`facet:gen:${scope}`);
    await this.redis.publish(CHANNEL, `${scope}:${generation}`);
    return generation;
  }

  onGeneration(listener: (scope: string, generation: number) => void): void {
    this.listeners.push(listener);
  }

  async tryLock(key: string, ttlMs: number): Promise<boolean> {
    if (!this.available) return true; // no coordination possible: fetch (single-flight still holds per replica)
    try {
      return (await this.redis.set(`facet:lock:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK';
    } catch {
      return true;
    }
  }

  async unlock(key: string): Promise<void> {
    await this.redis.del(`facet:lock:${key}`).catch(() => {});
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
