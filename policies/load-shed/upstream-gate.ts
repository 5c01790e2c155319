// The admission gate of one service endpoint: the adaptive limit, the number
// of requests in flight, and each class's share of the limit. Lower classes
// may fill less of it, so as the upstream saturates they are refused first
// and the higher classes keep the remaining room.

import type { AdaptiveConcurrencySettings, PriorityClass } from './settings.ts';
import { GradientLimit } from './gradient-limit.ts';

/** rttMs null: free the slot without a sample. */
type Settle = (rttMs: number | null, inflight: number, dropped: boolean, now: number) => void;

/** One admitted request's slot. Release it exactly once; later calls do nothing. */
export class Ticket {
  #settle: Settle | null;
  #start: number;
  #begun = false;
  /** Requests in flight when this one was admitted, itself included. */
  readonly inflight: number;

  constructor(settle: Settle | null, start: number, inflight: number) {
    this.#settle = settle;
    this.#start = start;
    this.inflight = inflight;
  }

  /** Upstream work starts now: the RTT is measured from here rather than from admission. */
  begin(now: number): void {
    this.#start = now;
    this.#begun = true;
  }

  /** Whether begin() was called (the request got as far as its handler). */
  get begun(): boolean {
    return this.#begun;
  }

  /** Done: free the slot and feed the limit an RTT sample (or a drop). */
  release(dropped: boolean, now: number): void {
    const settle = this.#settle;
    if (settle === null) return;
    this.#settle = null;
    settle(now - this.#start, this.inflight, dropped, now);
  }

  /** Done without a verdict on the upstream (never reached it, client went away): free the slot only. */
  abandon(): void {
    const settle = this.#settle;
    if (settle === null) return;
    this.#settle = null;
    settle(null, this.inflight, false, 0);
  }
}

/** A ticket that holds nothing, for when shedding is off. */
export const FREE_TICKET: Ticket = new Ticket(null, 0, 0);

export class UpstreamGate {
  readonly name: string;
  readonly limiter: GradientLimit;
  readonly #shares: Readonly<Record<PriorityClass, number>>;
  #inflight = 0;
  readonly #settle: Settle;

  constructor(name: string, adaptive: AdaptiveConcurrencySettings, classShares: Readonly<Record<PriorityClass, number>>) {
    this.name = name;
    this.limiter = new GradientLimit(adaptive);
    this.#shares = { ...classShares };
    // One function per gate, shared by its tickets: admitting allocates only the ticket.
    this.#settle = (rttMs, inflight, dropped, now) => {
      this.#inflight--;
      if (rttMs !== null) this.limiter.onSample(rttMs, inflight, dropped, now);
    };
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Slots class `cls` may fill at the current limit: floor(limit × share); critical gets at least 1. */
  capacity(cls: PriorityClass): number {
    const slots = Math.floor(this.limiter.limit * this.#shares[cls]);
    return cls === 'critical' && slots < 1 ? 1 : slots;
  }

  /** Whether a request of class `cls` would fit now (takes nothing). */
  hasRoom(cls: PriorityClass): boolean {
    return this.#inflight < this.capacity(cls);
  }

  /** A ticket if a request of class `cls` fits now, else null. O(1). */
  tryAcquire(cls: PriorityClass, now: number): Ticket | null {
    if (!this.hasRoom(cls)) return null;
    return new Ticket(this.#settle, now, ++this.#inflight);
  }
}
