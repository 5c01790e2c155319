import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdaptiveConcurrencySettings } from '../../gateway/config/types.ts';
import { GradientLimit, WARMUP } from '../../policies/load-shed/gradient-limit.ts';

const SETTINGS: AdaptiveConcurrencySettings = { initialLimit: 20, minLimit: 4, maxLimit: 200, smoothing: 0.2, rttTolerance: 2 };

/** Inflight at the limit, as the gate allows it. */
const busy = (l: GradientLimit) => Math.max(1, Math.floor(l.limit));

/** Feeds `n` samples of `rttMs`, the upstream kept busy (inflight at the limit) unless told otherwise. */
function feed(limit: GradientLimit, n: number, rttMs: number, inflight: (l: GradientLimit) => number = busy): number[] {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    limit.onSample(rttMs, inflight(limit), false);
    seen.push(limit.limit);
  }
  return seen;
}

function warm(settings: AdaptiveConcurrencySettings = SETTINGS, rttMs = 10): GradientLimit {
  const limit = new GradientLimit(settings);
  feed(limit, WARMUP, rttMs);
  assert.equal(limit.limit, settings.initialLimit, 'warm-up samples set the baseline only');
  return limit;
}

describe('GradientLimit', () => {
  it('grows under a stable low RTT while the upstream is busy', () => {
    const limit = warm();
    const seen = feed(limit, 30, 10);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) > (seen[i - 1] as number), `sample ${i} did not grow`);
    assert.ok(limit.limit > 40, `limit ${limit.limit}`);
  });

  it('does not grow when app-limited (fewer than half the limit in flight)', () => {
    const limit = warm();
    feed(limit, 100, 10, () => 5);
    assert.equal(limit.limit, 20);
  });

  it('tolerates latency growth within rttTolerance', () => {
    const limit = warm();
    feed(limit, 50, 19); // 1.9 × the baseline, tolerance 2
    assert.ok(limit.limit > 20, `limit ${limit.limit}`);
  });

  it('shrinks when the RTT rises past the tolerance, not below minLimit', () => {
    const limit = warm({ ...SETTINGS, initialLimit: 100 });
    const seen = feed(limit, 200, 50); // 5 × the baseline
    assert.ok((seen[30] as number) < 60, `after 30 slow samples: ${seen[30]}`);
    assert.ok(Math.min(...seen) < 5, `lowest ${Math.min(...seen)}`);
    assert.ok(seen.every((l) => l >= 4));
  });

  it('settles near the capacity of an upstream that queues, instead of creeping to maxLimit', () => {
    // RTT grows with concurrency past 20 in flight (Little's law); demand is unbounded.
    const limit = warm({ ...SETTINGS, maxLimit: 1000 });
    const seen: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const inflight = busy(limit);
      limit.onSample(10 * Math.max(1, inflight / 20), inflight, false);
      seen.push(limit.limit);
    }
    const last = seen.slice(-1000);
    // Tolerance 2 lets the RTT double: about 2 × capacity plus the √limit queue.
    assert.ok(Math.min(...last) > 30 && Math.max(...last) < 60, `settled between ${Math.min(...last)} and ${Math.max(...last)}`);
    assert.ok(limit.longRtt < 11, `baseline ${limit.longRtt}`);
  });

  it('shrinks by 10 % per drop, not below minLimit, without an RTT sample', () => {
    const limit = warm();
    limit.onSample(5000, 20, true);
    assert.equal(limit.limit, 18);
    const { longRtt, shortRtt } = limit;
    for (let i = 0; i < 50; i++) limit.onSample(5000, 20, true);
    assert.equal(limit.limit, 4);
    assert.deepEqual([limit.longRtt, limit.shortRtt], [longRtt, shortRtt]);
  });

  it('stops at maxLimit', () => {
    const limit = warm();
    feed(limit, 1000, 10);
    assert.equal(limit.limit, 200);
  });

  it('recovers once latency goes back down: the limit grows again and the baseline drifts down', () => {
    const limit = warm();
    feed(limit, 300, 100, () => 2); // a slow spell under light load: the baseline learns it
    assert.ok(limit.limit < 20, `limit during the slow spell ${limit.limit}`);
    assert.ok(limit.longRtt > 50, `baseline after the slow spell ${limit.longRtt}`);
    feed(limit, 200, 10);
    assert.ok(limit.limit > 40, `limit after recovery ${limit.limit}`);
    // The slow EMA alone would still be near 40 ms; the drift brought it within 2 × the short RTT.
    assert.ok(limit.longRtt < 21, `baseline after recovery ${limit.longRtt}`);
    // …so a new rise past the tolerance shrinks the limit again.
    const before = limit.limit;
    feed(limit, 40, 60);
    assert.ok(limit.limit < before / 2, `${before} → ${limit.limit}`);
  });

  it('clamps the initial limit and rejects impossible settings', () => {
    assert.equal(new GradientLimit({ ...SETTINGS, initialLimit: 1000 }).limit, 200);
    assert.equal(new GradientLimit({ ...SETTINGS, initialLimit: 1 }).limit, 4);
    assert.throws(() => new GradientLimit({ ...SETTINGS, minLimit: 300 }), RangeError);
    assert.throws(() => new GradientLimit({ ...SETTINGS, smoothing: 0 }), RangeError);
    assert.throws(() => new GradientLimit({ ...SETTINGS, rttTolerance: 0.5 }), RangeError);
  });

  it('ignores samples that are not durations', () => {
    const limit = warm();
    limit.onSample(Number.NaN, 20, false);
    limit.onSample(-1, 20, false);
    limit.onSample(Infinity, 20, false);
    assert.equal(limit.limit, 20);
    assert.equal(limit.longRtt, 10);
  });
});
