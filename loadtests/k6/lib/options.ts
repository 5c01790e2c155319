// What every script exports as `options`: its scenarios, its thresholds, the
// trend statistics its summary shows, and how long setup() may take.

import type { Options, Scenario } from 'k6/options';
import type { ThresholdSet } from './thresholds.ts';

/** Trend statistics kept in the end-of-test data (lib/summary.ts shows them). */
export const SUMMARY_TREND_STATS: readonly string[] = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

type Extra = Omit<Options, 'scenarios' | 'thresholds' | 'summaryTrendStats' | 'setupTimeout'>;

/** A script's options; `extra` for what only some scripts set (teardownTimeout, noVUConnectionReuse). */
export function scriptOptions<S extends Record<string, Scenario>, E extends Extra = Record<never, never>>(scenarios: S, t: ThresholdSet, setupTimeoutSec: number, extra?: E) {
  return { scenarios, thresholds: t.thresholds, summaryTrendStats: [...SUMMARY_TREND_STATS], setupTimeout: `${Math.round(setupTimeoutSec)}s`, ...extra };
}
