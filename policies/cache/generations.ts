// An in-process view of each scope's cache generation. The generation is
// part of every cache key, so one bump drops every page of a scope at once.
// Reading it from Redis on each request would add a round trip, so replicas
// keep it here, updated at once by the store's bump notifications and
// re-read after `maxAgeMs` in case a notification was missed.

import type { CacheStore } from './store.ts';

interface Known {
  generation: number;
  readAt: number;
}

export class GenerationView {
  private readonly known = new Map<string, Known>();
  private readonly store: CacheStore;
  private readonly maxAgeMs: number;

  constructor(store: CacheStore, maxAgeMs: number) {
    this.store = store;
    this.maxAgeMs = maxAgeMs;
    store.onGeneration((scope, generation) => {
      const current = this.known.get(scope);
      if (!current || generation >= current.generation) this.known.set(scope, { generation, readAt: Date.now() });
    });
  }

  /** The generation if known and recent, without I/O; undefined otherwise. */
  peek(scope: string, now = Date.now()): number | undefined {
    const known = this.known.get(scope);
    return known && now - known.readAt < this.maxAgeMs ? known.generation : undefined;
  }

  async current(scope: string): Promise<number> {
    const cached = this.peek(scope);
    if (cached !== undefined) return cached;
    const generation = await this.store.readGeneration(scope);
    const current = this.known.get(scope);
    // A notification may have raced the read: keep the higher.
    const best = Math.max(generation, current?.generation ?? 0);
    this.known.set(scope, { generation: best, readAt: Date.now() });
    return best;
  }

  async bump(scope: string): Promise<number> {
    const generation = await this.store.bumpGeneration(scope);
    this.known.set(scope, { generation, readAt: Date.now() });
    return generation;
  }
}
