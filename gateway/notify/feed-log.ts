// The operators' feed buffer: every order event once, in order, with an id a
// browser can resume from (Last-Event-ID). Two stores behind one interface:
// a Redis stream shared by every replica (redis-feed-log.ts) and an
// in-process ring for the embedded default (this file).

import { LRUCache } from 'lru-cache';

export interface FeedEntry {
  /** Stream id `<ms>-<seq>`, increasing: the SSE `id:`. */
  id: string;
  /** SSE event name, e.g. `order.status_changed`. */
  type: string;
  /** The order's status for status events (the stream filter); null for others. */
  status: string | null;
  /** JSON text of the event's data. */
  data: string;
}

export interface FeedRecord {
  /** The bus message id: an event is appended once however often it is delivered. */
  eventId: string;
  type: string;
  status: string | null;
  data: string;
}

export interface Backlog {
  entries: FeedEntry[];
  /** True when events after the client's id are no longer buffered. */
  gap: boolean;
}

export interface FeedLog {
  /** Appends once per eventId; false when that event was already appended. */
  append(record: FeedRecord): Promise<boolean>;
  /** Buffered entries after `lastId`, oldest first, at most `limit`. */
  since(lastId: string, limit: number): Promise<Backlog>;
  /** Delivers every new entry, whichever replica appended it, to `listener`. One reader per process. */
  tail(listener: (entries: FeedEntry[]) => void): void;
  close(): Promise<void>;
}

export const FEED_ID = /^\d{1,15}-\d{1,15}$/;

/** Orders two stream ids; negative when a < b. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

export class MemoryFeedLog implements FeedLog {
  private readonly entries: FeedEntry[] = [];
  private readonly seen = new LRUCache<string, true>({ max: 100_000 });
  private readonly listeners = new Set<(entries: FeedEntry[]) => void>();
  private readonly capacity: number;
  private lastMs = 0;
  private seq = 0;
  /** Id of the newest entry the ring dropped. */
  private trimmedUpTo: string | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  private nextId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else {
      this.seq++;
    }
    return `${this.lastMs}-${this.seq}`;
  }

  async append(record: FeedRecord): Promise<boolean> {
    if (this.seen.has(record.eventId)) return false;
    this.seen.set(record.eventId, true);
    const entry: FeedEntry = { id: this.nextId(), type: record.type, status: record.status, data: record.data };
    this.entries.push(entry);
    while (this.entries.length > this.capacity) this.trimmedUpTo = this.entries.shift()?.id;
    for (const listener of this.listeners) listener([entry]);
    return true;
  }

  async since(lastId: string, limit: number): Promise<Backlog> {
    const gap = this.trimmedUpTo !== undefined && compareIds(this.trimmedUpTo, lastId) > 0;
    const entries = this.entries.filter((e) => compareIds(e.id, lastId) > 0).slice(0, limit);
    return { entries, gap };
  }

  tail(listener: (entries: FeedEntry[]) => void): void {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
