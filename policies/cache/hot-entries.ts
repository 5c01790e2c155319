// The in-process layer in front of the shared cache: the hottest pages of
// this replica, kept for a short time so a fresh hit needs no Redis call.
// It stays coherent with Redis because its keys are the shared store's keys,
// generation included: a generation bump (notified on the store's channel,
// generations.ts) changes every key of the scope, so the old entries here are
// never read again and age out. Only fresh entries are served from here;
// anything stale goes to the shared store, which may hold a newer page that
// another replica fetched.

import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './store.ts';

export interface HotEntry {
  readonly entry: CacheEntry;
  /** The body as bytes, encoded once: a hit writes them as they are. */
  readonly bytes: Buffer;
}

export interface HotEntriesOptions {
  /** How many pages this replica keeps. */
  maxEntries: number;
  /** How long a page is served from here before the shared store is asked again. */
  maxAgeMs: number;
}

export class HotEntries {
  private readonly entries: LRUCache<string, HotEntry>;

  constructor(options: HotEntriesOptions) {
    this.entries = new LRUCache<string, HotEntry>({ max: options.maxEntries, ttl: options.maxAgeMs, ttlAutopurge: false });
  }

  /** The page under `key` if this replica has it and it is still fresh (younger than `freshMs`). */
  fresh(key: string, freshMs: number, now = Date.now()): HotEntry | undefined {
    const hot = this.entries.get(key);
    if (!hot) return undefined;
    if (now - hot.entry.storedAt >= freshMs) {
      this.entries.delete(key);
      return undefined;
    }
    return hot;
  }

  /** Keeps `entry` (read from or written to the shared store under `key`); returns its hot form. */
  remember(key: string, entry: CacheEntry): HotEntry {
    const known = this.entries.get(key);
    if (known && known.entry.storedAt >= entry.storedAt && known.entry.etag === entry.etag) return known;
    const hot: HotEntry = { entry, bytes: Buffer.from(entry.body) };
    this.entries.set(key, hot);
    return hot;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
