// Cache-aside with one upstream fetch per key at a time: in this process
// (a shared promise) and across replicas (a short Redis lock; the others
// wait for the holder's entry instead of fetching themselves).

import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { GenerationView } from './generations.ts';
import { HotEntries } from './hot-entries.ts';
import type { CacheEntry, CacheStore } from './store.ts';

export type CacheOutcome = 'hit' | 'stale' | 'stale_if_error' | 'miss' | 'collapsed' | 'bypass' | 'refreshed';

export interface CacheServiceOptions {
  /** How long a replica trusts its view of a generation without a notification. */
  generationMaxAgeMs: number;
  /** Longest a replica waits for another one's fetch before fetching itself. */
  lockTtlMs: number;
  /** The in-process layer in front of a shared store (hot-entries.ts); none in front of the in-process store. */
  hot?: { maxEntries: number; maxAgeMs: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function etagOf(body: string): string {
  // One-shot hash: no Hash object per call (it runs on every miss and refresh).
  return `"${hash('sha1', body, 'base64url')}"`;
}

/**
 * Stable hash of a request's raw parameters: key order, repeated values and
 * `?a=x` vs `?a=x&a=y` spelling do not matter (every value is a sorted list
 * of strings).
 */
export function hashParameters(values: Record<string, unknown>): string {
  const normalized = Object.keys(values)
    .sort()
    .map((k) => {
      const v = values[k];
      return [k, (Array.isArray(v) ? v : [v]).map(String).sort()];
    });
  return hash('sha1', JSON.stringify(normalized), 'base64url');
}

/** Bytes of answers each replica keeps as its own last resort (see CacheService.lastGood). */
const LAST_GOOD_MAX_BYTES = 32 * 1024 * 1024;

/** What outlives a config reload (PolicyHost.retain): the store, the generations seen, the counters. */
export interface CacheState {
  store: CacheStore;
  generations: GenerationView;
  outcomes: Counter<'route' | 'outcome'>;
  upstreamFetches: Counter<'route'>;
  /** See CacheService.lastGood. */
  lastGood: LRUCache<string, CacheEntry>;
}

export function createCacheState(store: CacheStore, options: Pick<CacheServiceOptions, 'generationMaxAgeMs'>, registry: Registry): CacheState {
  return {
    store,
    generations: new GenerationView(store, options.generationMaxAgeMs),
    outcomes: new Counter({
      name: 'facet_cache_requests_total',
      help: 'Cached reads by route and outcome (hit|stale|stale_if_error|miss|collapsed|bypass|refreshed).',
      labelNames: ['route', 'outcome'],
      registers: [registry],
    }),
    upstreamFetches: new Counter({
      name: 'facet_cache_upstream_fetches_total',
      help: 'Upstream fetches made to fill the cache, by route.',
      labelNames: ['route'],
      registers: [registry],
    }),
    lastGood: new LRUCache<string, CacheEntry>({ maxSize: LAST_GOOD_MAX_BYTES, sizeCalculation: (entry) => entry.body.length + 64 }),
  };
}

export class CacheService {
  readonly store: CacheStore;
  readonly generations: GenerationView;
  readonly outcomes: Counter<'route' | 'outcome'>;
  readonly upstreamFetches: Counter<'route'>;
  /**
   * The last answer this replica fetched per page (keyed like latestKey),
   * in process memory: stale-if-error's fallback when the shared store
   * cannot give one in time (Redis cut off, or slower than its 100 ms
   * command timeout on a busy machine: a 502 seen in the chaos suite while
   * the CRM failed half its requests). Bounded by bytes, scoped like every
   * key, so it never crosses sellers.
   */
  readonly lastGood: LRUCache<string, CacheEntry>;
  /** Fresh pages this replica serves without asking the shared store (undefined: every read asks it). */
  readonly hot: HotEntries | undefined;
  private readonly flights = new Map<string, Promise<CacheEntry>>();
  private readonly lockTtlMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly jobs: { intervalMs: number; task: () => Promise<void> }[] = [];
  private started = false;
  /** Whether close() closes the store too (not when it outlives this service). */
  private readonly ownsStore: boolean;

  constructor(store: CacheStore | CacheState, options: CacheServiceOptions, registry?: Registry) {
    const state = 'generations' in store ? store : createCacheState(store, options, registry as Registry);
    this.ownsStore = !('generations' in store);
    this.store = state.store;
    this.generations = state.generations;
    this.outcomes = state.outcomes;
    this.upstreamFetches = state.upstreamFetches;
    this.lastGood = state.lastGood;
    this.lockTtlMs = options.lockTtlMs;
    this.hot = options.hot && this.store.kind === 'redis' ? new HotEntries(options.hot) : undefined;
  }

  key(scope: string, generation: number, route: string, parameters: string): string {
    return `facet:c:${scope}:g${generation}:${route}:${parameters}`;
  }

  /** The page's latest entry whatever its generation (see the policy's staleAcrossGenerations). */
  latestKey(scope: string, route: string, parameters: string): string {
    return `facet:c:${scope}:latest:${route}:${parameters}`;
  }

  /** The newest of what the shared store and this replica hold for a page (stale-if-error's candidates). */
  async fallback(latestKey: string, known: CacheEntry | undefined): Promise<CacheEntry | undefined> {
    const stored = known ?? (await this.store.get(latestKey));
    const local = this.lastGood.get(latestKey);
    if (!stored) return local;
    return local && local.storedAt > stored.storedAt ? local : stored;
  }

  /**
   * Runs `fetch` once per key at a time and stores its entry. `newerThan`:
   * an entry we already have; a replica's result must be newer to be used.
   */
  async fetchOnce(key: string, ttlMs: number, fetch: () => Promise<CacheEntry>, newerThan = 0): Promise<{ entry: CacheEntry; collapsed: boolean }> {
    const inFlight = this.flights.get(key);
    if (inFlight) return { entry: await inFlight, collapsed: true };
    const flight = this.fetchAcrossReplicas(key, ttlMs, fetch, newerThan);
    this.flights.set(key, flight);
    try {
      return { entry: await flight, collapsed: false };
    } finally {
      this.flights.delete(key);
    }
  }

  private async fetchAcrossReplicas(key: string, ttlMs: number, fetch: () => Promise<CacheEntry>, newerThan: number): Promise<CacheEntry> {
    const locked = await this.store.tryLock(key, this.lockTtlMs);
    if (!locked) {
      // Another replica is fetching this key: wait for its entry.
      const deadline = Date.now() + this.lockTtlMs;
      while (Date.now() < deadline) {
        await sleep(20);
        const entry = await this.store.get(key);
        if (entry && entry.storedAt > newerThan) return entry;
        if (!this.store.available) break;
      }
    }
    try {
      // Double-check: a fetch that finished between our lookup and now has
      // already stored what we need.
      const stored = await this.store.get(key);
      if (stored && stored.storedAt > newerThan) return stored;
      const entry = await fetch();
      await this.store.set(key, entry, ttlMs);
      return entry;
    } finally {
      if (locked) await this.store.unlock(key);
    }
  }

  /**
   * Runs `task` every `intervalMs` from start() (once at once, then on the
   * interval) until close(); a tick is skipped while the last run is still going.
   */
  every(intervalMs: number, task: () => Promise<void>): void {
    this.jobs.push({ intervalMs, task });
    if (this.started) this.schedule(intervalMs, task);
  }

  /** Starts the periodic jobs (refresh-ahead): once the routes they send requests to are ready. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const { intervalMs, task } of this.jobs) this.schedule(intervalMs, task);
  }

  private schedule(intervalMs: number, task: () => Promise<void>): void {
    let running = false;
    const run = () => {
      if (running) return;
      running = true;
      void task()
        .catch(() => {})
        .finally(() => (running = false));
    };
    // The first run waits for the store (at start-up Redis may still be connecting): run without it,
    // a refresh takes no lock and stores nothing, and the pages stay cold for a whole interval.
    const first = (waitedMs: number) => {
      if (this.store.available || waitedMs >= intervalMs) return run();
      const retry = setTimeout(() => first(waitedMs + 50), 50);
      retry.unref();
      this.timers.add(retry);
    };
    const initial = setTimeout(() => first(0), 0);
    initial.unref();
    const timer = setInterval(run, intervalMs);
    timer.unref();
    this.timers.add(timer).add(initial);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    if (this.ownsStore) await this.store.close();
  }
}
