// The MES's legacy events on the message bus, as the real MES publishes them:
// exchange `events`, routing key `mes.legacy.<EventType>`, the MES's own
// payload unchanged (the MES adapter translates it into canonical events).
//
// A real MES publishes through an outbox; this one keeps a small in-memory
// outbox: every event is queued, published with a broker confirm, and only
// removed once confirmed. A failed publish (broker down or restarting, no
// queue bound yet) goes back to the front of the outbox and is retried with
// exponential backoff, so a broker restart loses nothing while this process
// lives. Message ids are deterministic (`mes:<type>:<job or order>[:<status>]`),
// so a publish retried after an unknown outcome is recognisable downstream.
// Each event keeps the trace context it was emitted in (the MES request that
// started the job, carried by its timers), however late it is published.

import { context, type Context } from '@opentelemetry/api';
import type { Bus, BusLogger } from '../../platform/bus/types.ts';
import type { MesEvent, MesEvents } from './events.ts';

export interface MesBusBridgeOptions {
  bus: Bus;
  events: MesEvents;
  logger?: BusLogger;
  /** Events waiting while the bus is away; past it the oldest are dropped (logged). Default 10,000. */
  maxOutbox?: number;
  /** Publishes awaiting their confirm at once. Default 8. */
  concurrency?: number;
  /** Retry backoff after a failed publish: from min doubling to max. Default 100 ms .. 5 s. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface MesBusBridgeStats {
  /** Waiting in the outbox (not yet confirmed), including those in flight. */
  pending: number;
  published: number;
  failedAttempts: number;
  dropped: number;
}

interface Entry {
  seq: number;
  event: MesEvent;
  context: Context;
}

const silent: BusLogger = { info() {}, warn() {}, error() {}, debug() {} };

export function legacyRoutingKey(event: MesEvent): string {
  return `mes.legacy.${event.type}`;
}

export function legacyMessageId(event: MesEvent): string {
  if (event.type === 'ManufacturingStatusChanged') return `mes:${event.type}:${event.order_id}:${event.status}`;
  return `mes:${event.type}:${event.job_id}`;
}

export class MesBusBridge {
  private readonly bus: Bus;
  private readonly events: MesEvents;
  private readonly logger: BusLogger;
  private readonly maxOutbox: number;
  private readonly concurrency: number;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  /** Oldest first; `seq` keeps the MES's order when failed publishes go back in. */
  private readonly outbox: Entry[] = [];
  private seq = 0;
  private readonly inflight = new Set<Promise<void>>();
  private readonly listener = (event: MesEvent): void => this.enqueue(event);
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counts = { published: 0, failedAttempts: 0, dropped: 0 };

  constructor(options: MesBusBridgeOptions) {
    this.bus = options.bus;
    this.events = options.events;
    this.logger = options.logger ?? silent;
    this.maxOutbox = options.maxOutbox ?? 10_000;
    this.concurrency = options.concurrency ?? 8;
    this.minDelayMs = options.minDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.events.on('event', this.listener);
  }

  stats(): MesBusBridgeStats {
    return { pending: this.outbox.length + this.inflight.size, ...this.counts };
  }

  /** Resolves once the outbox is empty, or false after `timeoutMs`. */
  async drain(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.outbox.length + this.inflight.size > 0) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /** Stops listening; gives the outbox `graceMs` to empty, then reports what is left. */
  async close(graceMs = 2_000): Promise<void> {
    this.events.off('event', this.listener);
    const drained = await this.drain(graceMs);
    this.closed = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.inflight]);
    if (!drained) this.logger.error({ lost: this.outbox.length }, 'MES bus bridge closed with events still in its outbox');
  }

  private enqueue(event: MesEvent): void {
    if (this.closed) return;
    this.outbox.push({ seq: this.seq++, event, context: context.active() });
    this.trim();
    this.pump();
  }

  /** Past `maxOutbox` waiting events (in flight ones come on top, at most `concurrency`), the oldest are dropped. */
  private trim(): void {
    while (this.outbox.length > this.maxOutbox) {
      const lost = this.outbox.shift() as Entry;
      this.counts.dropped++;
      this.logger.error({ id: legacyMessageId(lost.event), max: this.maxOutbox }, 'MES outbox full: oldest event dropped');
    }
  }

  /** Starts publishes up to the concurrency limit, unless waiting out a backoff. */
  private pump(): void {
    if (this.closed || this.timer) return;
    while (this.inflight.size < this.concurrency && this.outbox.length > 0) {
      const entry = this.outbox.shift() as Entry;
      const done = this.publish(entry).then((err) => {
        this.inflight.delete(done);
        if (err !== undefined) this.putBack(entry, err);
        this.pump();
      });
      this.inflight.add(done);
    }
  }

  /** Resolves with the error when the publish was not confirmed. */
  private async publish({ event, context: emitted }: Entry): Promise<unknown> {
    try {
      await context.with(emitted, () => this.bus.publish('events', legacyRoutingKey(event), { id: legacyMessageId(event), type: legacyRoutingKey(event), body: event }));
      this.counts.published++;
      this.failures = 0;
      return undefined;
    } catch (err) {
      this.counts.failedAttempts++;
      return err ?? new Error('publish failed');
    }
  }

  /** Back in at its place (events keep the order the MES emitted them in), then wait a backoff. */
  private putBack(entry: Entry, err: unknown): void {
    let at = 0;
    while (at < this.outbox.length && (this.outbox[at] as Entry).seq < entry.seq) at++;
    this.outbox.splice(at, 0, entry);
    this.trim();
    this.backoff(err, legacyMessageId(entry.event));
  }

  private backoff(err: unknown, id: string): void {
    if (this.closed || this.timer) return;
    const delay = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(this.failures++, 16));
    const log = this.failures === 1 ? this.logger.warn : this.logger.debug;
    log.call(this.logger, { err, id, retry_in_ms: delay, pending: this.outbox.length }, 'MES event not published; retrying');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, delay);
    this.timer.unref();
  }
}
