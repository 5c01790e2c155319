// One writer per order at a time. Messages about the same order can be in
// flight together (order.place and its quote.ready; MES announcing
// MANUFACTURING_STARTED before its HTTP answer has reached the saga; a
// cancel), on one process or on competing ones. Two layers:
// - in process, a FIFO chain per order id: later handlers wait in memory;
// - across processes, a lease in the KeyValueStore: `<prefix><order_id>:lock`
//   set only-if-absent with a TTL and a random token, renewed every ttl/3
//   while the handler runs. A process killed with the lock leaves it to
//   expire (at most `ttlSec`); a waiter polls for up to `waitMs` (longer
//   than the TTL, so a dead holder never costs a retry), then gives up and
//   the message is retried by the bus.
// If a renewal finds another token (this process stalled past the TTL), the
// lease is marked lost and the handler's next state write throws.
// Release compares the token before deleting; the KeyValueStore has no
// atomic compare-and-delete, so a lease that expires in that instant could
// be deleted under its next holder: renewals keep it far from expiring.

import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../../platform/state/kv.ts';
import { LeaseLostError } from './errors.ts';

export interface LockOptions {
  keyPrefix: string;
  /** Lease TTL; default 10 s. */
  ttlSec?: number;
  /** How long to wait for a held lease before giving up; default 15 s. */
  waitMs?: number;
  /** Poll interval while waiting; default 50 ms. */
  pollMs?: number;
}

export interface Lease {
  /** Throws LeaseLostError when the lease was taken over. */
  assertHeld(): void;
}

export const NOT_ACQUIRED: unique symbol = Symbol('lock not acquired');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class OrderLocks {
  private readonly kv: KeyValueStore;
  private readonly keyPrefix: string;
  private readonly ttlSec: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly tails = new Map<string, Promise<void>>();

  constructor(kv: KeyValueStore, options: LockOptions) {
    this.kv = kv;
    this.keyPrefix = options.keyPrefix;
    this.ttlSec = Math.max(1, Math.round(options.ttlSec ?? 10));
    this.waitMs = options.waitMs ?? 15_000;
    this.pollMs = options.pollMs ?? 50;
  }

  key(orderId: string): string {
    return `${this.keyPrefix}${orderId}:lock`;
  }

  /** Runs `fn` holding the order's lock; NOT_ACQUIRED if another holder kept it past `waitMs`. */
  async run<T>(orderId: string, fn: (lease: Lease) => Promise<T>): Promise<T | typeof NOT_ACQUIRED> {
    const previous = this.tails.get(orderId) ?? Promise.resolve();
    let release = (): void => {};
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(orderId, tail);
    await previous;
    try {
      return await this.withLease(orderId, fn);
    } finally {
      release();
      if (this.tails.get(orderId) === tail) this.tails.delete(orderId);
    }
  }

  private async withLease<T>(orderId: string, fn: (lease: Lease) => Promise<T>): Promise<T | typeof NOT_ACQUIRED> {
    const key = this.key(orderId);
    const token = randomUUID();
    const deadline = Date.now() + this.waitMs;
    while (!(await this.kv.setIfAbsent(key, token, this.ttlSec))) {
      if (Date.now() >= deadline) return NOT_ACQUIRED;
      await sleep(this.pollMs);
    }
    let lost = false;
    const renew = setInterval(() => {
      void (async () => {
        if ((await this.kv.get(key)) === token) await this.kv.set(key, token, this.ttlSec);
        else lost = true;
      })().catch(() => undefined); // Store away: the next write fails on its own.
    }, (this.ttlSec * 1000) / 3);
    renew.unref();
    try {
      return await fn({
        assertHeld: () => {
          if (lost) throw new LeaseLostError(orderId);
        },
      });
    } finally {
      clearInterval(renew);
      if ((await this.kv.get(key).catch(() => null)) === token) await this.kv.delete(key).catch(() => undefined);
    }
  }
}
