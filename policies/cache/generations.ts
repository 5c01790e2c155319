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
  /** Reads of a scope's generation in flight: one at a time per scope, shared by every caller. */
  private readonly reading = new Map<string, Promise<number>>();
  /** Bumps asked for and not sent yet (they go at the next turn of the event loop): later askers share them. */
  private readonly queued = new Map<string, Promise<number>>();
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

  /**
   * The generation if known and recent, without I/O; undefined otherwise.
   * Past half its age it is re-read in the background, so a busy scope
   * never finds it expired (every request in flight would then read it).
   */
  peek(scope: string, now = Date.now()): number | undefined {
    const known = this.known.get(scope);
    if (!known) return undefined;
    const age = now - known.readAt;
    if (age >= this.maxAgeMs) return undefined;
    if (age * 2 >= this.maxAgeMs && !this.reading.has(scope)) this.read(scope).catch(() => undefined);
    return known.generation;
  }

  async current(scope: string): Promise<number> {
    const cached = this.peek(scope);
    if (cached !== undefined) return cached;
    return this.reading.get(scope) ?? this.read(scope);
  }

  private read(scope: string): Promise<number> {
    const reading = this.store.readGeneration(scope).then((generation) => {
      const current = this.known.get(scope);
      // A notification may have raced the read: keep the higher.
      const best = Math.max(generation, current?.generation ?? 0);
      this.known.set(scope, { generation: best, readAt: Date.now() });
      return best;
    });
    const settled = reading.finally(() => {
      if (this.reading.get(scope) === settled) this.reading.delete(scope);
    });
    this.reading.set(scope, settled);
    return settled;
  }

  /**
   * Bumps the scope once the callers of this turn of the event loop have
   * asked: every change made before a call is covered by a bump sent after
   * it, so callers of one turn share one bump (a burst of status events of
   * one delivery batch: one INCR and one PUBLISH per scope, not one each).
   * A bump already sent is never shared: a later change needs its own.
   */
  bump(scope: string): Promise<number> {
    const queued = this.queued.get(scope);
    if (queued) return queued;
    const bumped = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      this.queued.delete(scope);
      const generation = await this.store.bumpGeneration(scope);
      const current = this.known.get(scope);
      // The store's notification of this bump (or a later one) may have come first: keep the higher.
      if (!current || generation >= current.generation) this.known.set(scope, { generation, readAt: Date.now() });
      return generation;
    });
    this.queued.set(scope, bumped);
    return bumped;
  }
}
