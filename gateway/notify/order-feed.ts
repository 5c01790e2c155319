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
  /** Open streams one owner (an operator) may hold here. */
  maxStreamsPerOwner: number;
  /** Open streams this replica serves. */
  maxStreams: number;
}

export interface OpenStreamOptions {
  statuses: ReadonlySet<string>;
  lastEventId: string | undefined;
  /** Who holds the stream (the operator's subject): counted against maxStreamsPerOwner while it is open. */
  owner: string;
  /** When the owner's credential ends (ms since the epoch): the stream says `expired` and ends then. */
  expiresAt?: number;
}

/** setTimeout's largest delay; a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

/** Why a stream cannot be opened now: the owner holds its share, or the replica is full. */
export type StreamRefusal = 'owner_limit' | 'replica_full';

export class OrderFeed {
  private readonly log: FeedLog;
  private readonly options: OrderFeedOptions;
  private readonly clients = new Set<StreamClient>();
  /** Open streams per owner; an owner with none has no entry. */
  private readonly perOwner = new Map<string, number>();
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

  /**
   * Whether `owner` may open another stream now. Each stream holds a socket
   * and a buffer for as long as it is open, so a leaked tab loop or a
   * stolen token must not take them all. Nothing is reserved: call open()
   * without awaiting in between, and the answer still holds.
   */
  refusal(owner: string): StreamRefusal | undefined {
    if ((this.perOwner.get(owner) ?? 0) >= this.options.maxStreamsPerOwner) return 'owner_limit';
    if (this.clients.size >= this.options.maxStreams) return 'replica_full';
    return undefined;
  }

  append(record: FeedRecord): Promise<boolean> {
    return this.log.append(record);
  }

  /** Serves one SSE response until the client leaves or the feed stops. Headers are written by the caller. */
  async open(res: ServerResponse, options: OpenStreamOptions): Promise<void> {
    const client = new StreamClient(res, { statuses: options.statuses, maxBufferedBytes: this.options.maxBufferedBytes });
    const { owner } = options;
    this.clients.add(client);
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    let released = false;
    let expiry: NodeJS.Timeout | undefined;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(expiry);
      client.closed = true;
      this.clients.delete(client);
      const left = (this.perOwner.get(owner) ?? 1) - 1;
      if (left > 0) this.perOwner.set(owner, left);
      else this.perOwner.delete(owner);
    };
    res.once('close', release);
    // The client may have gone while the request was authenticated: its
    // 'close' has been emitted already and would never free the slot.
    if (res.destroyed) {
      release();
      return;
    }
    if (options.expiresAt !== undefined) {
      const { expiresAt } = options;
      // A stream lives no longer than the token that opened it: the client
      // is told why (so it gets a new token rather than reconnecting), then closed.
      const arm = (): void => {
        const left = expiresAt - Date.now();
        if (left > MAX_TIMER_MS) {
          expiry = setTimeout(arm, MAX_TIMER_MS);
          return;
        }
        expiry = setTimeout(() => {
          client.write(sseEvent(undefined, 'expired', JSON.stringify({ detail: 'The bearer token that opened this stream has expired; reconnect with a new token.' })));
          client.end();
          release();
        }, Math.max(0, left));
      };
      arm();
    }
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
