// The benchmark's statistics, in one place: medians over rounds, percentiles
// of samples and of latency histograms. Callers differ in what they leave out
// and in how a percentile is defined, so each definition has a name of its
// own; none of them is ever swapped for another (the figures in
// docs/performance.md would move without anything having changed).

import type { RecordableHistogram } from 'node:perf_hooks';

/** The middle of ascending `sorted`: the mean of the two middle values when the count is even; NaN when empty. */
function middle(sorted: readonly number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The median of `values`, NaN left out (a round that could not measure it);
 * ±Infinity counts. NaN when nothing is left. The runner's and the report's
 * median over rounds.
 */
export function median(values: readonly number[]): number {
  return middle(values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b));
}

/** The median of the finite `values` (NaN and ±Infinity left out); NaN when none is. */
export function medianOfFinite(values: readonly number[]): number {
  return middle(values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b));
}

/**
 * The upper median: the value at index ⌊n/2⌋ of `values` sorted ascending
 * (the higher of the two middle values when the count is even; nothing is
 * averaged or left out). NaN when empty.
 */
export function upperMedian(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number);
}

/**
 * The `p`th percentile (0–100) of ascending `sorted` by nearest rank: the
 * smallest sample with at least p% of the samples at or below it, one of
 * the samples itself. NaN when empty.
 */
export function nearestRankPercentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/**
 * The `p`th percentile (0–100) of ascending `sorted`, interpolated linearly
 * between the two closest ranks (rank (n − 1) · p/100), as k6 computes the
 * p(N) of a trend. NaN when empty.
 */
export function interpolatedPercentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

/** The `p`th percentile of a latency histogram recorded in µs, in ms; NaN when it recorded nothing. */
export function histogramPercentileMs(histogram: RecordableHistogram, p: number): number {
  return histogram.count > 0 ? histogram.percentile(p) / 1000 : Number.NaN;
}
