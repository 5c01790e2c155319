// The process guard: when the gateway's own event loop lags, every upstream
// is affected, so lower classes are shed by event-loop delay regardless of
// any upstream's limit. Critical requests are never shed here.

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { PriorityClass, SheddingSettings } from './settings.ts';

/** Where the delay comes from: the p99 event-loop delay (ms) since the previous read. */
export interface LoopDelaySource {
  start(): void;
  stop(): void;
  read(): number;
}

const RESOLUTION_MS = 10;

/**
 * perf_hooks' histogram, timer-based at 10 ms resolution. Node records each
 * timer interval whole, so the resolution is subtracted to get the delay.
 * The sampling timer's own lateness counts too: a block that straddles a
 * read can land between the histogram's ticks.
 */
export function histogramDelaySource(sampleMs: number): LoopDelaySource {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  let last = performance.now();
  return {
    start() {
      histogram.enable();
      last = performance.now();
    },
    stop() {
      histogram.disable();
    },
    read() {
      const now = performance.now();
      const lateMs = Math.max(0, now - last - sampleMs);
      last = now;
      const p99Ms = histogram.count > 0 ? Math.max(0, histogram.percentile(99) / 1e6 - RESOLUTION_MS) : 0;
      histogram.reset();
      return Math.max(p99Ms, lateMs);
    },
  };
}

export type LoopGuardSettings = Pick<SheddingSettings, 'eventLoopDelayMs' | 'eventLoopSampleMs'>;

export class EventLoopGuard {
  readonly #source: LoopDelaySource;
  readonly #sampleMs: number;
  /** Delay above which each class is shed; critical: never. */
  readonly #thresholds: Readonly<Record<PriorityClass, number>>;
  #delayMs = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: LoopGuardSettings, source: LoopDelaySource = histogramDelaySource(settings.eventLoopSampleMs)) {
    this.#source = source;
    this.#sampleMs = settings.eventLoopSampleMs;
    this.#thresholds = { critical: Infinity, ...settings.eventLoopDelayMs };
  }

  /** p99 delay (ms) of the last sampled interval. */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** Reads the source; the timer calls this every eventLoopSampleMs, tests call it directly. */
  sample(): number {
    this.#delayMs = this.#source.read();
    return this.#delayMs;
  }

  shouldShed(cls: PriorityClass): boolean {
    return this.#delayMs > this.#thresholds[cls];
  }

  start(): void {
    if (this.#timer) return;
    this.#source.start();
    this.#timer = setInterval(() => this.sample(), this.#sampleMs);
    this.#timer.unref();
  }

  stop(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#source.stop();
    this.#delayMs = 0;
  }
}
