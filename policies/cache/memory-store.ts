// The embedded default's cache: an in-process LRU with TTLs.

import { LRUCache } from 'lru-cache';
import type { CacheEntry, CacheStore } from './store.ts';

export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  private readonly entries: LRUCache<string, CacheEntry>;
  private readonly generations = new Map<string, number>();
  private readonly locks = new LRUCache<string, true>({ max: 10_000, ttlAutopurge: false, ttl: 60_000 });
  private readonly listeners: ((scope: string, generation: number) => void)[] = [];

  constructor(maxEntries = 10_000) {
    this.entries = new LRUCache({ max: maxEntries, ttlAutopurge: false });
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return this.entries.get(key);
  }

  async set(key: string, entry: CacheEntry, ttlMs: number): Promise<void> {
    this.entries.set(key, entry, { ttl: ttlMs });
  }

  async readGeneration(scope: string): Promise<number> {
    return this.generations.get(scope) ?? 0;
  }

  async bumpGeneration(scope: string): Promise<number> {
    const next = (this.generations.get(scope) ?? 0) + 1;
    this.generations.set(scope, next);
    for (const listener of this.listeners) listener(scope, next);
    return next;
  }

  onGeneration(listener: (scope: string, generation: number) => void): void {
    this.listeners.push(listener);
  }

  async tryLock(key: string, ttlMs: number): Promise<boolean> {
    if (this.locks.has(key)) return false;
    this.locks.set(key, true, { ttl: ttlMs });
    return true;
  }

  async unlock(key: string): Promise<void> {
    this.locks.delete(key);
  }

  async close(): Promise<void> {}
}
