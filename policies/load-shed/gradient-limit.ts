// An adaptive concurrency limit for one upstream, from the latency gradient
// (the idea of Netflix concurrency-limits' Gradient2Limit behind its
// WindowedLimit, and of Envoy's adaptive concurrency filter; this is a small
// version of our own).
//
// Samples are gathered in windows and the limit moves once per window, not
// once per sample: a change of the limit shows in the RTTs only one round
// trip later, and updating at every sample (hundreds per second) pushed the
// limit far past the upstream's capacity before the first queued answer came
// back, then down to the floor (measured: 8 ↔ 156 within a second against a
// 16-worker CRM). A window closes once it holds MIN_WINDOW_SAMPLES samples
// and max(MIN_WINDOW_MS, 2 × the recent RTT), at most MAX_WINDOW_MS, passed
// since the previous one closed.
//
// Two views of the upstream's round-trip time:
//   longRtt  — the baseline, what the upstream takes when it is not queueing;
//   shortRtt — the last window's mean RTT: what it takes right now.
// At the end of every window:
//   gradient = clamp(rttTolerance × longRtt / shortRtt, 0.5, 1.0)
//     1.0 while the current RTT is within `rttTolerance` × the baseline (no
//     queueing worth reacting to); below 1 in proportion as requests queue;
//     never below 0.5, so one outlier window cannot halve the limit.
//   target   = limit × gradient + √limit
//     √limit is the queue allowed on top: room to probe for more capacity,
//     large enough to grow from, small relative to a large limit.
//   limit    = limit × (1 − smoothing) + target × smoothing, within [minLimit, maxLimit]
// Against an upstream that queues (RTT ∝ inflight / capacity) it settles near
// where the RTT is rttTolerance × the baseline.
//
// Growth only when the upstream was busy: with fewer than half the allowed
// requests in flight during a window, it says nothing about capacity
// (app-limited), so the limit may shrink but not grow.
// A dropped request (upstream timeout, 5xx) multiplies the limit by 0.9 at
// once and gives no RTT sample (a timeout's RTT is the timeout, not the
// upstream's).
//
// The baseline must be the RTT without queueing, and under sustained
// overload no sample shows it: every request queues. So, as Envoy's adaptive
// concurrency filter does, the limit measures it: the first WARMUP samples'
// mean, then a probe 1 s later, 2 s after that, doubling up to
// probeIntervalSec: the limit drops to light load (max(minLimit, 4) in
// flight) until PROBE_SAMPLES requests started under light load have
// completed; their mean RTT becomes the baseline and the limit goes back to
// where it was. A probe sheds more for about one round trip (~100 ms at
// 25 ms RTTs), so it runs only when due and the limit binds (a window with
// more than light load and at least half the limit in flight); a lightly
// used upstream needs none. Between probes, each window's mean pulls the
// baseline down when lower, and up only when the window ran under light load.
// Without the probes (Gradient2 feeds every sample to its baseline; an
// earlier version of this file learned from windows with up to half the limit
// in flight) queueing delay becomes the baseline and the limit creeps up:
// measured, a 450 ms baseline in front of a 25 ms CRM; and a baseline learned
// while the process was cold (78 ms) was never unlearned under overload.

import type { AdaptiveConcurrencySettings } from './settings.ts';

/** The first WARMUP samples set the baseline (a plain mean), one by one. */
export const WARMUP = 10;
/** A window closes with at least this many samples… */
export const MIN_WINDOW_SAMPLES = 10;
/** …once it lasted max(MIN_WINDOW_MS, 2 × the recent RTT), at most MAX_WINDOW_MS. */
export const MIN_WINDOW_MS = 100;
export const MAX_WINDOW_MS = 1000;
/** Weight of one window in the baseline average. */
export const BASELINE_ALPHA = 0.1;
/** Light-load samples a probe averages into the baseline. */
export const PROBE_SAMPLES = 10;
/** The first probe follows the warm-up by this much; each gap doubles, up to probeIntervalSec. */
export const FIRST_PROBE_GAP_MS = 1000;
export const DEFAULT_PROBE_INTERVAL_SEC = 30;
export const DROP_FACTOR = 0.9;
export const MIN_GRADIENT = 0.5;

/** Where latency alone drives the limit: limit = limit × 0.5 + √limit settles at 1 / (1 − 0.5)² = 4. */
const LATENCY_FLOOR = 1 / (1 - MIN_GRADIENT) ** 2;

export class GradientLimit {
  readonly #minLimit: number;
  readonly #maxLimit: number;
  readonly #smoothing: number;
  readonly #tolerance: number;
  /** In flight at most, for a window to count as light load. */
  readonly #lightLoad: number;
  #limit: number;
  #longRtt = 0;
  #shortRtt = 0;
  #samples = 0;
  // The open window.
  #windowStart = 0;
  #windowSum = 0;
  #windowCount = 0;
  #windowMaxInflight = 0;
  // Baseline probes: when the next starts, the gap after it, and the one running.
  readonly #probeIntervalMs: number;
  #nextProbeAt = Infinity;
  #probeGapMs = FIRST_PROBE_GAP_MS;
  #probe: { resumeLimit: number; sum: number; count: number } | undefined;

  constructor(settings: AdaptiveConcurrencySettings) {
    const { initialLimit, minLimit, maxLimit, smoothing, rttTolerance, probeIntervalSec = DEFAULT_PROBE_INTERVAL_SEC } = settings;
    if (!(minLimit >= 1 && minLimit <= maxLimit)) throw new RangeError(`adaptive: need 1 <= minLimit (${minLimit}) <= maxLimit (${maxLimit})`);
    if (!(smoothing > 0 && smoothing <= 1)) throw new RangeError(`adaptive: smoothing must be in (0, 1], got ${smoothing}`);
    if (!(rttTolerance >= 1)) throw new RangeError(`adaptive: rttTolerance must be >= 1, got ${rttTolerance}`);
    if (!(probeIntervalSec > 0)) throw new RangeError(`adaptive: probeIntervalSec must be > 0, got ${probeIntervalSec}`);
    this.#probeIntervalMs = probeIntervalSec * 1000;
    this.#minLimit = minLimit;
    this.#maxLimit = maxLimit;
    this.#smoothing = smoothing;
    this.#tolerance = rttTolerance;
    this.#lightLoad = Math.max(minLimit, LATENCY_FLOOR);
    this.#limit = Math.min(maxLimit, Math.max(minLimit, initialLimit));
  }

  /** Current estimate (fractional; callers floor it). */
  get limit(): number {
    return this.#limit;
  }

  /** Baseline RTT (ms), 0 before the first sample. */
  get longRtt(): number {
    return this.#longRtt;
  }

  /** Recent RTT (ms): the last window's mean, 0 before the first sample. */
  get shortRtt(): number {
    return this.#shortRtt;
  }

  /** Whether a baseline probe runs (the limit is held at light load). */
  get probing(): boolean {
    return this.#probe !== undefined;
  }

  /**
   * One completed request: its RTT, how many requests were in flight when it
   * started (itself included), whether it was dropped (timeout, 5xx), and
   * when it completed (performance.now() time, ms).
   */
  onSample(rttMs: number, inflight: number, dropped: boolean, now: number = performance.now()): void {
    const probe = this.#probe;
    if (dropped) {
      if (probe) probe.resumeLimit = Math.max(this.#minLimit, probe.resumeLimit * DROP_FACTOR);
      else this.#limit = Math.max(this.#minLimit, this.#limit * DROP_FACTOR);
      return;
    }
    if (!(rttMs >= 0) || rttMs === Infinity) return;
    const n = ++this.#samples;
    if (n <= WARMUP) {
      this.#longRtt += (rttMs - this.#longRtt) / n;
      this.#shortRtt = this.#longRtt;
      if (n === WARMUP) {
        this.#nextProbeAt = now + this.#probeGapMs;
        this.#windowStart = now;
      }
      return;
    }
    if (probe) {
      // Requests admitted before the probe still queue: only light-load ones measure the baseline.
      if (inflight > this.#lightLoad) return;
      probe.sum += rttMs;
      if (++probe.count >= PROBE_SAMPLES) this.#endProbe(probe, now);
      return;
    }
    this.#windowSum += rttMs;
    this.#windowCount++;
    if (inflight > this.#windowMaxInflight) this.#windowMaxInflight = inflight;
    const length = Math.min(MAX_WINDOW_MS, Math.max(MIN_WINDOW_MS, 2 * this.#shortRtt));
    if (this.#windowCount >= MIN_WINDOW_SAMPLES && now - this.#windowStart >= length) {
      const busy = this.#windowMaxInflight > this.#lightLoad && this.#windowMaxInflight >= this.#limit / 2;
      this.#closeWindow(now);
      // A probe only when it is due and the limit binds: a lightly used upstream
      // teaches the baseline by itself, and needs no requests shed to measure it.
      if (busy && now >= this.#nextProbeAt) this.#startProbe();
    }
  }

  #startProbe(): void {
    this.#probe = { resumeLimit: this.#limit, sum: 0, count: 0 };
    this.#limit = this.#lightLoad;
  }

  #endProbe(probe: { resumeLimit: number; sum: number; count: number }, now: number): void {
    this.#longRtt = probe.sum / probe.count;
    this.#limit = probe.resumeLimit;
    this.#probe = undefined;
    this.#probeGapMs = Math.min(this.#probeIntervalMs, this.#probeGapMs * 2);
    this.#nextProbeAt = now + this.#probeGapMs;
    this.#windowStart = now;
  }

  #closeWindow(now: number): void {
    this.#windowStart = now;
    const rtt = this.#windowSum / this.#windowCount;
    const maxInflight = this.#windowMaxInflight;
    this.#windowSum = 0;
    this.#windowCount = 0;
    this.#windowMaxInflight = 0;

    if (rtt < this.#longRtt || maxInflight <= this.#lightLoad) this.#longRtt += (rtt - this.#longRtt) * BASELINE_ALPHA;
    this.#shortRtt = rtt;
    const limit = this.#limit;
    const ratio = rtt > 0 ? (this.#tolerance * this.#longRtt) / rtt : 1;
    const gradient = Math.max(MIN_GRADIENT, Math.min(1, ratio));
    const target = limit * gradient + Math.sqrt(limit);
    let next = limit * (1 - this.#smoothing) + target * this.#smoothing;
    if (maxInflight < limit / 2) next = Math.min(next, limit); // app-limited: no evidence for more
    this.#limit = Math.max(this.#minLimit, Math.min(this.#maxLimit, next));
  }
}
