// One open SSE response. A client that does not read (its socket's unsent
// output passes maxBufferedBytes) is disconnected rather than buffered
// without bound: the browser reconnects with Last-Event-ID and catches up
// from the feed buffer. While its backlog is replayed, live entries wait in
// `held` and are sent after it, skipping any the backlog already had.

import type { ServerResponse } from 'node:http';
import { compareIds, type FeedEntry } from './feed-log.ts';
import { sseEvent } from './sse.ts';

export interface StreamClientOptions {
  /** Only status events with one of these statuses; other events (takes) always pass. Empty: everything. */
  statuses: ReadonlySet<string>;
  maxBufferedBytes: number;
}

export class StreamClient {
  private readonly res: ServerResponse;
  private readonly options: StreamClientOptions;
  private held: FeedEntry[] | undefined = [];
  private lastSent: string | undefined;
  closed = false;

  constructor(res: ServerResponse, options: StreamClientOptions) {
    this.res = res;
    this.options = options;
  }

  private wanted(entry: FeedEntry): boolean {
    return this.options.statuses.size === 0 || entry.status === null || this.options.statuses.has(entry.status);
  }

  /** Writes raw SSE text, or drops a client that stopped reading. */
  write(text: string): void {
    if (this.closed) return;
    if (this.res.writableLength > this.options.maxBufferedBytes) {
      this.end(true);
      return;
    }
    this.res.write(text);
  }

  private send(entry: FeedEntry): void {
    if (this.lastSent !== undefined && compareIds(entry.id, this.lastSent) <= 0) return;
    this.lastSent = entry.id;
    if (this.wanted(entry)) this.write(sseEvent(entry.id, entry.type, entry.data));
  }

  /** Live entries from the hub. */
  offer(entries: FeedEntry[]): void {
    if (this.held) this.held.push(...entries);
    else for (const entry of entries) this.send(entry);
  }

  /** The backlog after Last-Event-ID, then whatever arrived meanwhile. */
  replay(backlog: FeedEntry[]): void {
    for (const entry of backlog) this.send(entry);
    const held = this.held ?? [];
    this.held = undefined;
    for (const entry of held) this.send(entry);
  }

  /** Ends the response; `destroy` for a stuck client whose buffer will never drain. */
  end(destroy = false): void {
    if (this.closed) return;
    this.closed = true;
    if (destroy) this.res.destroy();
    else this.res.end();
  }
}
