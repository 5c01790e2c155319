// Measurements of events rather than of requests. A delivery variant sends
// events (publishes them on the bus, POSTs them) and notes where each one
// arrives (an SSE client, a webhook receiver): the time from each send to
// each receipt, deliveries per second, and the deliveries that never came.
// The runner measures these like request variants (warm-up, interleaved
// rounds, medians, CPU probes, the error budget); the report gives them a
// table of their own, per delivery instead of per request.
//
// Times are CLOCK_MONOTONIC readings (process.hrtime) in µs: one clock for
// every process on the machine, so a receipt noted in a child process (the
// webhook receiver) compares with a send noted in the harness.

import { createHistogram } from 'node:perf_hooks';
import type { RecordableHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { perUnit, probed } from './measure.ts';
import type { CounterProbe, CpuProbe } from './measure.ts';
import { histogramPercentileMs } from './statistics.ts';

/** Now on CLOCK_MONOTONIC, in µs: comparable between processes of this machine. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** What one measurement of a delivery variant sent and what arrived. */
export interface DeliveryRun {
  /** Events sent (published, POSTed). */
  sent: number;
  /** Deliveries expected: every event to every receiver. */
  expected: number;
  /** Distinct (receiver, event) deliveries that arrived. */
  delivered: number;
  /** Deliveries that arrived again (at-least-once redelivery). */
  duplicates: number;
  /** Sends that failed (publish not confirmed, POST without a 2xx); their events may still have arrived. */
  sendErrors: number;
  /** Receipts of events this measurement did not send (e.g. a late retry of an earlier one): ignored, counted. */
  strays: number;
  /** Seconds from the first send to the last delivery. */
  durationS: number;
  /** Seconds from the first send to the last. */
  sendingS: number;
  /** The rate a scheduled sender aimed at (events/s); absent for a burst. */
  offeredPerSec?: number;
  /** Send → receipt of each first delivery, µs. */
  latencyUs: RecordableHistogram;
}

/**
 * The bookkeeping of one measurement: when each event was sent, which
 * receiver got which event when. Events are told apart by a key the
 * receiver can read back (e.g. the order id in the event's body).
 */
export class DeliveryLog {
  readonly #receivers: number;
  readonly #sentAt = new Map<string, number>();
  readonly #seen = new Map<string, Set<string>>();
  readonly #latency = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
  readonly #offeredPerSec: number | undefined;
  #delivered = 0;
  #duplicates = 0;
  #sendErrors = 0;
  #strays = 0;
  #firstSend = Number.NaN;
  #lastSend = Number.NaN;
  #lastReceipt = Number.NaN;
  #onProgress: (() => void) | undefined;

  /** `receivers`: how many receivers each event must reach (SSE clients; 1 for a webhook subscription). */
  constructor(receivers: number, offeredPerSec?: number) {
    this.#receivers = receivers;
    this.#offeredPerSec = offeredPerSec;
  }

  get expected(): number {
    return this.#sentAt.size * this.#receivers;
  }

  get delivered(): number {
    return this.#delivered;
  }

  /** Notes that the event `key` is being sent now (call just before sending it). */
  sent(key: string, atUs = monotonicMicros()): void {
    if (this.#sentAt.has(key)) throw new Error(`event ${key} sent twice in one measurement`);
    this.#sentAt.set(key, atUs);
    if (Number.isNaN(this.#firstSend)) this.#firstSend = atUs;
    this.#lastSend = atUs;
  }

  sendFailed(): void {
    this.#sendErrors++;
  }

  /** Notes that `receiver` got the event `key` at `atUs` (on the monotonic clock). */
  received(receiver: string, key: string, atUs: number): void {
    const sentAt = this.#sentAt.get(key);
    if (sentAt === undefined) {
      this.#strays++;
      return;
    }
    let seen = this.#seen.get(receiver);
    if (!seen) this.#seen.set(receiver, (seen = new Set()));
    if (seen.has(key)) {
      this.#duplicates++;
      return;
    }
    seen.add(key);
    this.#delivered++;
    this.#latency.record(Math.max(1, Math.round(atUs - sentAt)));
    if (!(atUs <= this.#lastReceipt)) this.#lastReceipt = atUs;
    // Only complete() sets it, once everything is sent: until then the expected count still grows.
    if (this.#delivered >= this.expected) this.#onProgress?.();
  }

  /** Resolves when every expected delivery has arrived, or after `timeoutMs` (whatever is missing is then lost). */
  async complete(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.#delivered >= this.expected) return;
    const done = new Promise<void>((resolve) => (this.#onProgress = resolve));
    const stopTimer = new AbortController();
    const expired = sleep(timeoutMs, undefined, { signal: AbortSignal.any([signal, stopTimer.signal]) }).catch((error: unknown) => {
      if (stopTimer.signal.aborted) return;
      throw signal.aborted ? signal.reason : error;
    });
    try {
      await Promise.race([done, expired]);
    } finally {
      stopTimer.abort();
      this.#onProgress = undefined;
    }
  }

  result(): DeliveryRun {
    const run: DeliveryRun = {
      sent: this.#sentAt.size,
      expected: this.expected,
      delivered: this.#delivered,
      duplicates: this.#duplicates,
      sendErrors: this.#sendErrors,
      strays: this.#strays,
      durationS: Number.isNaN(this.#lastReceipt) ? 0 : (this.#lastReceipt - this.#firstSend) / 1e6,
      sendingS: Number.isNaN(this.#lastSend) ? 0 : (this.#lastSend - this.#firstSend) / 1e6,
      latencyUs: this.#latency,
    };
    if (this.#offeredPerSec !== undefined) run.offeredPerSec = this.#offeredPerSec;
    return run;
  }
}

/** Calls `send(i)` for i = 0 … count−1 on schedule, `ratePerSec` a second from now, without waiting for earlier sends to finish (open loop). */
export async function sendOnSchedule(count: number, ratePerSec: number, signal: AbortSignal, send: (i: number) => void): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / ratePerSec - performance.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
    signal.throwIfAborted();
    send(i);
  }
}

/** One measurement of a delivery variant, prepared: the part that is measured, and the clean-up after it. */
export interface DeliveryBatch {
  /** Sends the events and waits for their deliveries (or gives up); CPU and counters are read around this only. */
  run(): Promise<DeliveryRun>;
  /** Releases what preparing it took (e.g. closes the SSE clients); not measured. */
  close(): Promise<void>;
}

/** How many events were sent and what became of their deliveries: one measurement's, or the totals over its rounds. */
export interface DeliveryCounts {
  sent: number;
  expected: number;
  delivered: number;
  /** expected − delivered. */
  lost: number;
  duplicates: number;
  sendErrors: number;
  strays: number;
}

export const DELIVERY_COUNTS: readonly (keyof DeliveryCounts)[] = ['sent', 'expected', 'delivered', 'lost', 'duplicates', 'sendErrors', 'strays'];

/** Send → arrival of the deliveries that arrived, ms: one measurement's, or the medians over its rounds. */
export interface DeliveryLatency {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export const DELIVERY_LATENCY: readonly (keyof DeliveryLatency)[] = ['p50Ms', 'p95Ms', 'p99Ms', 'maxMs'];

export interface DeliveryMeasurement extends DeliveryCounts, DeliveryLatency {
  durationS: number;
  /** Deliveries per second from the first send to the last delivery. */
  deliveriesPerSec: number;
  /** Events per second actually sent (over the sending time), and the rate aimed at. */
  sentPerSec: number;
  offeredPerSec?: number;
  /** lost / expected: what the error budget counts. */
  errorRate: number;
  /** µs of CPU per delivery, by probe label (and LOAD_GENERATOR); undefined when unreadable. */
  cpuMicrosPerDelivery: Record<string, number | undefined>;
  /** Differences of the counter probes over the run, as `label.key`. */
  counters: Record<string, number>;
}

export function toDeliveryMeasurement(run: DeliveryRun, cpuMicros: Record<string, number | undefined>, counters: Record<string, number>): DeliveryMeasurement {
  const lost = Math.max(0, run.expected - run.delivered);
  const measurement: DeliveryMeasurement = {
    sent: run.sent,
    expected: run.expected,
    delivered: run.delivered,
    lost,
    duplicates: run.duplicates,
    sendErrors: run.sendErrors,
    strays: run.strays,
    durationS: run.durationS,
    deliveriesPerSec: run.durationS > 0 ? run.delivered / run.durationS : 0,
    // A single event (or a burst) takes no time to send: its rate is not a figure.
    sentPerSec: run.sendingS > 0 ? (run.sent - 1) / run.sendingS : Number.NaN,
    p50Ms: histogramPercentileMs(run.latencyUs, 50),
    p95Ms: histogramPercentileMs(run.latencyUs, 95),
    p99Ms: histogramPercentileMs(run.latencyUs, 99),
    maxMs: run.latencyUs.count > 0 ? run.latencyUs.max / 1000 : Number.NaN,
    errorRate: run.expected === 0 ? 1 : lost / run.expected,
    cpuMicrosPerDelivery: perUnit(cpuMicros, run.delivered),
    counters,
  };
  if (run.offeredPerSec !== undefined) measurement.offeredPerSec = run.offeredPerSec;
  return measurement;
}

/** Runs a prepared batch with the CPU probes and counters read around its run(), then closes it. */
export async function measureDeliveries(batch: DeliveryBatch, cpu: readonly CpuProbe[], counters: readonly CounterProbe[]): Promise<DeliveryMeasurement> {
  try {
    const { result, cpuMicros, counters: differences } = await probed(cpu, counters, () => batch.run());
    return toDeliveryMeasurement(result, cpuMicros, differences);
  } finally {
    await batch.close();
  }
}
