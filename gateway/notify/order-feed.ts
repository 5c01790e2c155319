// The operators' live feed: order events appended once to a bounded buffer
// (Redis stream, or in process), one reader per replica fanning them out to
// that replica's SSE clients, heartbeats on one timer for all of them.

import type { ServerResponse } from 'node:http';
import type { FeedLog, FeedRecord } from './feed-log.ts';
import { sseComment, sseEvent, sseRetry } from './sse.ts';
import { StreamClient } from './stream-client.ts';

export interface OrderFeedOptions {
  heartbeatMs: number;
  maxBufferedBytes: number;
  /** Most events replayed on a resume (the buffer's size). */
  replayLimit: number;
  /** Browser reconnect delay announced on connect. */
  retryMs?: number;
}

export interface OpenStreamOptions {
  statuses: ReadonlySet<string>;
  lastEventId: string | undefined;
}

export class OrderFeed {
  private readonly log: FeedLog;
  private readonly options: OrderFeedOptions;
  private readonly clients = new Set<StreamClient>();
  private heartbeat: NodeJS.Timeout | undefined;
  private started = false;

  constructor(log: FeedLog, options: OrderFeedOptions) {
    this.log = log;
    this.options = options;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.log.tail((entries) => {
      for (const client of this.clients) client.offer(entries);
    });
    this.heartbeat = setInterval(() => {
      const ping = sseComment('ping');
      for (const client of this.clients) client.write(ping);
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  append(record: FeedRecord): Promise<boolean> {
    return this.log.append(record);
  }

  /** Serves one SSE response until the client leaves or the feed stops. Headers are written by the caller. */
  async open(res: ServerResponse, options: OpenStreamOptions): Promise<void> {
    const client = new StreamClient(res, { statuses: options.statuses, maxBufferedBytes: this.options.maxBufferedBytes });
    this.clients.add(client);
    res.on('close', () => {
      client.closed = true;
      this.clients.delete(client);
    });
    client.write(sseRetry(this.options.retryMs ?? 2_000) + sseComment('connected'));
    if (options.lastEventId === undefined) {
      client.replay([]);
      return;
    }
    try {
      const backlog = await this.log.since(options.lastEventId, this.options.replayLimit);
      if (backlog.gap) {
        // Said before the backlog, without an id: the client's position stays where it was.
        client.write(sseEvent(undefined, 'gap', JSON.stringify({ last_event_id: options.lastEventId, detail: 'Events after this id are no longer buffered; reload the dashboard for the full picture.' })));
      }
      client.replay(backlog.entries);
    } catch {
      client.write(sseEvent(undefined, 'gap', JSON.stringify({ last_event_id: options.lastEventId, detail: 'The event buffer is unavailable; reload the dashboard for the full picture.' })));
      client.replay([]);
    }
  }

  /** Ends every open stream (graceful shutdown: browsers reconnect to another replica). */
  endStreams(): void {
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.endStreams();
    await this.log.close();
  }
}
