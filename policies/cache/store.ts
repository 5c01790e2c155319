// Where cached answers live: Redis (shared by replicas) or an in-process LRU
// (the embedded default), behind one interface. Every method swallows store
// trouble: a cache that is down is a cache that misses, never a 5xx.

export interface CacheEntry {
  /** The serialised JSON answer. */
  body: string;
  etag: string;
  /** Epoch ms when the upstream answered. */
  storedAt: number;
}

export interface CacheStore {
  readonly kind: 'redis' | 'memory';
  /** False while the store cannot answer; callers then go straight upstream. */
  readonly available: boolean;
  get(key: string): Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry, ttlMs: number): Promise<void>;
  /** Current generation of a scope (0 when never bumped). */
  readGeneration(scope: string): Promise<number>;
  /** Increments a scope's generation and tells every replica. */
  bumpGeneration(scope: string): Promise<number>;
  /** Called with (scope, generation) whenever any replica bumps one. */
  onGeneration(listener: (scope: string, generation: number) => void): void;
  /** Cross-replica fetch lock: true when this caller should fetch. */
  tryLock(key: string, ttlMs: number): Promise<boolean>;
  unlock(key: string): Promise<void>;
  close(): Promise<void>;
}

export function encodeEntry(entry: CacheEntry): string {
  return `${entry.storedAt}\n${entry.etag}\n${entry.body}`;
}

export function decodeEntry(raw: string): CacheEntry | undefined {
  const first = raw.indexOf('\n');
  const second = raw.indexOf('\n', first + 1);
  if (first < 0 || second < 0) return undefined;
  const storedAt = Number(raw.slice(0, first));
  if (!Number.isFinite(storedAt)) return undefined;
  return { storedAt, etag: raw.slice(first + 1, second), body: raw.slice(second + 1) };
}
