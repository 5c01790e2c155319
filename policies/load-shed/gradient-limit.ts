// An adaptive concurrency limit for one upstream, from the latency gradient
// (the idea of Netflix concurrency-limits' Gradient2Limit and Envoy's adaptive
// concurrency filter; this is a small version of our own).
//
// Two views of the upstream's round-trip time:
//   longRtt  — a slow EMA (~600 samples): the baseline, what the upstream
//              takes when it is not queueing;
//   shortRtt — a fast EMA (~10 samples): what it takes right now.
// On every completed request:
//   gradient = clamp(rttTolerance × longRtt / shortRtt, 0.5, 1.0)
//     1.0 while the current RTT is within `rttTolerance` × the baseline (no
//     queueing worth reacting to); below 1 in proportion as requests queue;
//     never below 0.5, so one outlier cannot halve the limit.
//   target   = limit × gradient + √limit
//     √limit is the queue allowed on top: room to probe for more capacity,
//     large enough to grow from, small relative to a large limit.
//   limit    = limit × (1 − smoothing) + target × smoothing, within [minLimit, maxLimit]
// With latency in tolerance the limit grows by smoothing × √limit per sample;
// with latency far past it (gradient 0.5) it falls towards 1 / (1 − 0.5)² = 4,
// floored by minLimit. Against an upstream that queues (RTT ∝ inflight /
// capacity) it settles near where the RTT is rttTolerance × the baseline.
//
// Growth only when the upstream was busy: with fewer than half the allowed
// requests in flight a sample says nothing about capacity (app-limited), so
// the limit may shrink but not grow.
// A dropped request (upstream timeout, 5xx) multiplies the limit by 0.9 and
// gives no RTT sample (a timeout's RTT is the timeout, not the upstream's).
//
// Where this differs from Gradient2: the baseline learns a higher RTT only
// from samples taken under light load (at most half the limit, or at most
// max(minLimit, 4) in flight); lower RTTs it always learns. Gradient2 feeds
// every sample to the baseline, so a saturated upstream's queueing delay
// becomes the baseline, the gradient returns to 1 and the limit creeps to
// maxLimit (in simulation: within ~1000 samples at infinite demand). The cost:
// an upstream that turns slower at every concurrency while demand stays above
// its limit keeps a lower limit until traffic lets it be measured lightly loaded.
// Recovery: when the short RTT falls below half the baseline (after a slow
// spell measured under light load), the baseline drifts 5 % per sample toward
// the short RTT instead of waiting for the slow EMA.

import type { AdaptiveConcurrencySettings } from '../../gateway/config/types.ts';

/** Samples the baseline EMA spans; the first WARMUP samples are a plain mean. */
export const LONG_WINDOW = 600;
export const SHORT_WINDOW = 10;
export const WARMUP = 10;
export const DROP_FACTOR = 0.9;
export const MIN_GRADIENT = 0.5;
/** longRtt / shortRtt above which the baseline drifts toward the short RTT. */
export const RECOVERY_RATIO = 2;
export const RECOVERY_RATE = 0.05;

/** Where latency alone drives the limit: limit = limit × 0.5 + √limit settles at 1 / (1 − 0.5)² = 4. */
const LATENCY_FLOOR = 1 / (1 - MIN_GRADIENT) ** 2;
const LONG_ALPHA = 2 / (LONG_WINDOW + 1);
const SHORT_ALPHA = 2 / (SHORT_WINDOW + 1);

export class GradientLimit {
  readonly #minLimit: number;
  readonly #maxLimit: number;
  readonly #smoothing: number;
  readonly #tolerance: number;
  #limit: number;
  #longRtt = 0;
  #shortRtt = 0;
  #samples = 0;

  constructor(settings: AdaptiveConcurrencySettings) {
    const { initialLimit, minLimit, maxLimit, smoothing, rttTolerance } = settings;
    if (!(minLimit >= 1 && minLimit <= maxLimit)) throw new RangeError(`adaptive: need 1 <= minLimit (${minLimit}) <= maxLimit (${maxLimit})`);
    if (!(smoothing > 0 && smoothing <= 1)) throw new RangeError(`adaptive: smoothing must be in (0, 1], got ${smoothing}`);
    if (!(rttTolerance >= 1)) throw new RangeError(`adaptive: rttTolerance must be >= 1, got ${rttTolerance}`);
    this.#minLimit = minLimit;
    this.#maxLimit = maxLimit;
    this.#smoothing = smoothing;
    this.#tolerance = rttTolerance;
    this.#limit = Math.min(maxLimit, Math.max(minLimit, initialLimit));
  }

  /** In-flight requests that count as light load: half the limit, or the floor the limit can be pushed to. */
  #lightLoad(limit: number): number {
    return Math.max(this.#minLimit, LATENCY_FLOOR, limit / 2);
  }

  /** Current estimate (fractional; callers floor it). */
  get limit(): number {
    return this.#limit;
  }

  /** Baseline RTT (ms), 0 before the first sample. */
  get longRtt(): number {
    return this.#longRtt;
  }

  /** Recent RTT (ms), 0 before the first sample. */
  get shortRtt(): number {
    return this.#shortRtt;
  }

  /**
   * One completed request: its RTT, how many requests were in flight when it
   * started (itself included), and whether it was dropped (timeout, 5xx).
   */
  onSample(rttMs: number, inflight: number, dropped: boolean): void {
    if (dropped) {
      this.#limit = Math.max(this.#minLimit, this.#limit * DROP_FACTOR);
      return;
    }
    if (!(rttMs >= 0) || rttMs === Infinity) return;
    const n = ++this.#samples;
    if (n <= WARMUP) {
      this.#longRtt += (rttMs - this.#longRtt) / n;
      this.#shortRtt = this.#longRtt;
      return;
    }
    const limit = this.#limit;
    if (rttMs < this.#longRtt || inflight <= this.#lightLoad(limit)) this.#longRtt += (rttMs - this.#longRtt) * LONG_ALPHA;
    this.#shortRtt += (rttMs - this.#shortRtt) * SHORT_ALPHA;
    if (this.#longRtt > RECOVERY_RATIO * this.#shortRtt) this.#longRtt += (this.#shortRtt - this.#longRtt) * RECOVERY_RATE;

    const ratio = this.#shortRtt > 0 ? (this.#tolerance * this.#longRtt) / this.#shortRtt : 1;
    const gradient = Math.max(MIN_GRADIENT, Math.min(1, ratio));
    const target = limit * gradient + Math.sqrt(limit);
    let next = limit * (1 - this.#smoothing) + target * this.#smoothing;
    if (inflight < limit / 2) next = Math.min(next, limit); // app-limited: no evidence for more
    this.#limit = Math.max(this.#minLimit, Math.min(this.#maxLimit, next));
  }
}
