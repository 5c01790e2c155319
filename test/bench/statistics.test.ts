// The harness's statistics (loadtests/bench/statistics.ts): each definition
// of median and percentile pinned on small samples, so that one can never
// quietly take another's place and move the published figures.
//
//   npx node --import tsx --test test/bench/statistics.test.ts

import assert from 'node:assert/strict';
import { createHistogram } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { histogramPercentileMs, interpolatedPercentile, median, medianOfFinite, nearestRankPercentile, upperMedian } from '../../loadtests/bench/statistics.ts';

describe('medians', () => {
  test('median: the middle value, or the mean of the two middle ones; NaN left out, ±Infinity kept', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, Number.NaN, 1]), 3);
    assert.equal(median([1, 2, Number.POSITIVE_INFINITY]), 2);
    assert.equal(median([1, Number.POSITIVE_INFINITY]), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(median([])));
    assert.ok(Number.isNaN(median([Number.NaN, Number.NaN])));
  });

  test('median does not reorder its argument', () => {
    const values = [3, 1, 2];
    median(values);
    assert.deepEqual(values, [3, 1, 2]);
  });

  test('medianOfFinite: the same over the finite values only', () => {
    assert.equal(medianOfFinite([4, 1, 3, 2]), 2.5);
    assert.equal(medianOfFinite([1, 2, Number.POSITIVE_INFINITY]), 1.5);
    assert.equal(medianOfFinite([Number.NEGATIVE_INFINITY, 7, Number.NaN]), 7);
    assert.ok(Number.isNaN(medianOfFinite([Number.POSITIVE_INFINITY, Number.NaN])));
  });

  test('upperMedian: the value at index ⌊n/2⌋ of the sorted values, not an average', () => {
    assert.equal(upperMedian([3, 1, 2]), 2);
    assert.equal(upperMedian([4, 1, 3, 2]), 3);
    assert.equal(upperMedian([7]), 7);
    assert.ok(Number.isNaN(upperMedian([])));
  });
});

describe('percentiles', () => {
  const sorted = [10, 20, 30, 40];

  test('nearestRankPercentile: the smallest sample with p% at or below it', () => {
    assert.equal(nearestRankPercentile(sorted, 0), 10);
    assert.equal(nearestRankPercentile(sorted, 25), 10);
    assert.equal(nearestRankPercentile(sorted, 26), 20);
    assert.equal(nearestRankPercentile(sorted, 50), 20);
    assert.equal(nearestRankPercentile(sorted, 99), 40);
    assert.equal(nearestRankPercentile(sorted, 100), 40);
    assert.ok(Number.isNaN(nearestRankPercentile([], 50)));
  });

  test('interpolatedPercentile: linear between the closest ranks, as k6 does', () => {
    assert.equal(interpolatedPercentile(sorted, 0), 10);
    assert.equal(interpolatedPercentile(sorted, 50), 25);
    assert.equal(interpolatedPercentile(sorted, 90), 37);
    assert.equal(interpolatedPercentile(sorted, 100), 40);
    assert.equal(interpolatedPercentile([5], 99), 5);
    assert.ok(Number.isNaN(interpolatedPercentile([], 50)));
  });

  test('histogramPercentileMs: µs recorded, ms returned; NaN for an empty histogram', () => {
    const histogram = createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
    assert.ok(Number.isNaN(histogramPercentileMs(histogram, 50)));
    for (const us of [500, 1000, 1500, 2000]) histogram.record(us); // below 2048: recorded exactly at 3 figures
    assert.equal(histogramPercentileMs(histogram, 50), 1);
    assert.equal(histogramPercentileMs(histogram, 100), 2);
  });
});
