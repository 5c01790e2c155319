import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdaptiveConcurrencySettings } from '../../policies/load-shed/settings.ts';
import { DROP_FACTOR, FIRST_PROBE_GAP_MS, GradientLimit, MIN_WINDOW_SAMPLES, PROBE_SAMPLES, WARMUP } from '../../policies/load-shed/gradient-limit.ts';

const SETTINGS: AdaptiveConcurrencySettings = { initialLimit: 20, minLimit: 4, maxLimit: 200, smoothing: 0.2, rttTolerance: 2, probeIntervalSec: 30 };
/** Light load for SETTINGS: max(minLimit 4, 4). */
const LIGHT = 4;
/** Each sample completes this much after the previous one: 10 samples = one 100 ms window. */
const STEP_MS = 10;

/** Inflight at the limit, as the gate allows it. */
const busy = (l: GradientLimit) => Math.max(1, Math.floor(l.limit));

/** A limit with its own clock: samples are spaced STEP_MS apart. */
class Subject {
  readonly limit: GradientLimit;
  now = 0;
  constructor(settings: AdaptiveConcurrencySettings = SETTINGS) {
    this.limit = new GradientLimit(settings);
  }
  sample(rttMs: number, inflight: number, dropped = false): void {
    this.now += STEP_MS;
    this.limit.onSample(rttMs, inflight, dropped, this.now);
  }
  /** `n` samples; the RTT may depend on the in-flight count (an upstream that queues). Returns the limit after each. */
  feed(n: number, rttMs: number | ((inflight: number) => number), inflight: (l: GradientLimit) => number = busy): number[] {
    const seen: number[] = [];
    for (let i = 0; i < n; i++) {
      const count = inflight(this.limit);
      this.sample(typeof rttMs === 'number' ? rttMs : rttMs(count), count);
      seen.push(this.limit.limit);
    }
    return seen;
  }
  /** Samples until no probe runs (at light load, so it completes), then returns. */
  finishProbe(rttMs: number): void {
    for (let i = 0; this.limit.probing && i < 100; i++) this.sample(rttMs, LIGHT);
    assert.equal(this.limit.probing, false);
  }
}

/** Busy samples until a probe starts; fails rather than loop for ever. */
function untilProbing(subject: Subject, rttMs: number, inflight: (l: GradientLimit) => number = busy): void {
  for (let i = 0; !subject.limit.probing; i++) {
    assert.ok(i < 100_000, 'no probe started');
    subject.sample(rttMs, inflight(subject.limit));
  }
}

function warm(settings: AdaptiveConcurrencySettings = SETTINGS, rttMs = 10): Subject {
  const subject = new Subject(settings);
  subject.feed(WARMUP, rttMs);
  assert.equal(subject.limit.limit, settings.initialLimit, 'warm-up samples set the baseline only');
  assert.equal(subject.limit.longRtt, rttMs);
  return subject;
}

/** Limits seen at window ends only (every MIN_WINDOW_SAMPLES samples of STEP_MS), probes left out. */
function windows(subject: Subject, count: number, rttMs: number | ((inflight: number) => number), inflight?: (l: GradientLimit) => number): number[] {
  const seen: number[] = [];
  while (seen.length < count) {
    if (subject.limit.probing) subject.finishProbe(typeof rttMs === 'number' ? rttMs : rttMs(LIGHT));
    const after = subject.feed(MIN_WINDOW_SAMPLES, rttMs, inflight);
    if (!subject.limit.probing) seen.push(after.at(-1) as number);
  }
  return seen;
}

describe('GradientLimit', () => {
  it('moves once per window (10 samples, at least 100 ms), not at every sample', () => {
    const subject = warm();
    const seen = subject.feed(MIN_WINDOW_SAMPLES - 1, 10);
    assert.ok(seen.every((l) => l === 20), `moved inside the window: ${seen.join(', ')}`);
    subject.sample(10, 20);
    assert.ok(subject.limit.limit > 20, 'the window closed and the limit grew');
    // Ten samples in less than 100 ms do not close a window.
    const before = subject.limit.limit;
    for (let i = 0; i < 20; i++) subject.limit.onSample(10, 20, false, subject.now + 1);
    assert.equal(subject.limit.limit, before);
  });

  it('grows under a stable low RTT while the upstream is busy', () => {
    const subject = warm();
    const seen = windows(subject, 15, 10);
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) > (seen[i - 1] as number), `window ${i} did not grow`);
    assert.ok(subject.limit.limit > 30, `limit ${subject.limit.limit}`);
  });

  it('does not grow when app-limited (fewer than half the limit in flight)', () => {
    const subject = warm();
    windows(subject, 10, 10, () => 5);
    assert.equal(subject.limit.limit, 20);
  });

  it('tolerates latency growth within rttTolerance', () => {
    const subject = warm();
    windows(subject, 5, 19); // 1.9 × the baseline, tolerance 2
    assert.ok(subject.limit.limit > 20, `limit ${subject.limit.limit}`);
  });

  it('shrinks when the RTT rises past the tolerance, not below minLimit', () => {
    const subject = warm({ ...SETTINGS, initialLimit: 100 });
    const seen = subject.feed(400, 50); // 5 × the baseline, windows of 100 ms
    assert.ok((seen[60] as number) < 70, `after 6 slow windows: ${seen[60]}`);
    assert.ok(seen.every((l) => l >= 4));
    assert.ok(Math.min(...seen) < 6, `lowest ${Math.min(...seen)}`);
  });

  it('settles near the capacity of an upstream that queues, instead of creeping to maxLimit', () => {
    // RTT grows with concurrency past 20 in flight (Little's law); demand is unbounded.
    const subject = warm({ ...SETTINGS, maxLimit: 1000 });
    const queueing = (inflight: number) => 10 * Math.max(1, inflight / 20);
    const last = windows(subject, 400, queueing).slice(-100);
    // Tolerance 2 lets the RTT double: about 2 × capacity plus the √limit queue.
    assert.ok(Math.min(...last) > 30 && Math.max(...last) < 60, `settled between ${Math.min(...last)} and ${Math.max(...last)}`);
    assert.ok(subject.limit.longRtt < 11, `baseline ${subject.limit.longRtt}`);
  });

  it('unlearns a baseline measured while cold: the probe finds the real one under sustained overload', () => {
    // The first requests took 80 ms (a cold process); the upstream really takes 10 ms
    // and queues past 20 in flight, and demand never lets it run lightly loaded.
    const subject = warm({ ...SETTINGS, maxLimit: 1000, initialLimit: 100 }, 80);
    const queueing = (inflight: number) => 10 * Math.max(1, inflight / 20);
    const early = subject.feed(90, queueing);
    assert.ok((early.at(-1) as number) > 80, `with an 80 ms baseline the queue looks fine: ${early.at(-1)}`);
    const last = windows(subject, 300, queueing).slice(-100);
    assert.ok(subject.limit.longRtt < 11, `baseline after the probes ${subject.limit.longRtt}`);
    assert.ok(Math.max(...last) < 60, `settled below ${Math.max(...last)}`);
  });

  it('probes the baseline: holds the limit at light load for a few light-load samples, then resumes, at doubling gaps', () => {
    const subject = warm();
    subject.feed(FIRST_PROBE_GAP_MS / STEP_MS - 1, 10);
    assert.equal(subject.limit.probing, false);
    const before = subject.limit.limit;
    subject.sample(10, busy(subject.limit));
    assert.equal(subject.limit.probing, true);
    assert.equal(subject.limit.limit, LIGHT, 'held at light load');
    // Answers of requests started before the probe, with more in flight, do not count.
    for (let i = 0; i < 50; i++) subject.sample(300, 30);
    assert.equal(subject.limit.probing, true);
    for (let i = 0; i < PROBE_SAMPLES - 1; i++) subject.sample(12, LIGHT);
    assert.equal(subject.limit.probing, true);
    subject.sample(12, LIGHT);
    assert.equal(subject.limit.probing, false);
    assert.equal(subject.limit.longRtt, 12, 'the probe’s mean is the baseline');
    // It resumes where it stood when the probe began: the window that ended then may have grown it.
    assert.ok(subject.limit.limit >= before && subject.limit.limit > LIGHT, `resumed at ${subject.limit.limit}, was ${before}`);
    // The next probe comes 2 s later, then 4 s, …, at most probeIntervalSec.
    const started = subject.now;
    untilProbing(subject, 12);
    assert.ok(Math.abs(subject.now - started - 2 * FIRST_PROBE_GAP_MS) <= STEP_MS, `second gap ${subject.now - started} ms`);
    subject.finishProbe(12);
    let gap = 0;
    for (let round = 0; round < 8; round++) {
      const from = subject.now;
      untilProbing(subject, 12);
      gap = subject.now - from;
      subject.finishProbe(12);
    }
    assert.ok(Math.abs(gap - 30_000) <= STEP_MS, `gaps stop at probeIntervalSec: ${gap} ms`);
  });

  it('does not probe an upstream whose limit does not bind: a lightly used one teaches the baseline by itself', () => {
    const subject = warm();
    for (let i = 0; i < 10_000; i++) subject.sample(10, i % 2 === 0 ? 3 : 8); // 100 s, never half the limit in flight
    assert.equal(subject.limit.probing, false);
    // Once it binds, the overdue probe runs at the next window's end.
    subject.feed(MIN_WINDOW_SAMPLES, 10);
    assert.equal(subject.limit.probing, true);
  });

  it('shrinks by 10 % per drop, not below minLimit, without an RTT sample; during a probe, the limit it resumes to', () => {
    const subject = warm();
    subject.sample(5000, 20, true);
    assert.equal(subject.limit.limit, 20 * DROP_FACTOR);
    const { longRtt, shortRtt } = subject.limit;
    for (let i = 0; i < 50; i++) subject.sample(5000, 20, true);
    assert.equal(subject.limit.limit, 4);
    assert.deepEqual([subject.limit.longRtt, subject.limit.shortRtt], [longRtt, shortRtt]);

    // Two limits fed the same, one with a drop during its probe.
    const [plain, probed] = [warm(), warm()];
    untilProbing(plain, 10);
    untilProbing(probed, 10);
    probed.sample(5000, 2, true);
    assert.equal(probed.limit.limit, LIGHT);
    plain.finishProbe(10);
    probed.finishProbe(10);
    assert.ok(Math.abs(probed.limit.limit - plain.limit.limit * DROP_FACTOR) < 1e-9, `${probed.limit.limit} vs ${plain.limit.limit} × ${DROP_FACTOR}`);
  });

  it('stops at maxLimit', () => {
    const subject = warm();
    windows(subject, 300, 10);
    assert.equal(subject.limit.limit, 200);
  });

  it('recovers once latency goes back down: the baseline follows and the limit grows again', () => {
    const subject = warm();
    windows(subject, 30, 100, () => 2); // a slow spell under light load: the baseline learns it
    assert.ok(subject.limit.limit < 20, `limit during the slow spell ${subject.limit.limit}`);
    assert.ok(subject.limit.longRtt > 50, `baseline after the slow spell ${subject.limit.longRtt}`);
    windows(subject, 40, 10);
    assert.ok(subject.limit.limit > 20, `limit after recovery ${subject.limit.limit}`);
    assert.ok(subject.limit.longRtt < 21, `baseline after recovery ${subject.limit.longRtt}`);
    // …so a new rise past the tolerance shrinks the limit again.
    const before = subject.limit.limit;
    windows(subject, 15, 60);
    assert.ok(subject.limit.limit < before / 2, `${before} → ${subject.limit.limit}`);
  });

  it('clamps the initial limit and rejects impossible settings', () => {
    assert.equal(new GradientLimit({ ...SETTINGS, initialLimit: 1000 }).limit, 200);
    assert.equal(new GradientLimit({ ...SETTINGS, initialLimit: 1 }).limit, 4);
    assert.throws(() => new GradientLimit({ ...SETTINGS, minLimit: 300 }), RangeError);
    assert.throws(() => new GradientLimit({ ...SETTINGS, smoothing: 0 }), RangeError);
    assert.throws(() => new GradientLimit({ ...SETTINGS, rttTolerance: 0.5 }), RangeError);
    assert.throws(() => new GradientLimit({ ...SETTINGS, probeIntervalSec: 0 }), RangeError);
  });

  it('ignores samples that are not durations', () => {
    const subject = warm();
    for (const rtt of [Number.NaN, -1, Infinity]) for (let i = 0; i < MIN_WINDOW_SAMPLES; i++) subject.sample(rtt, 20);
    assert.equal(subject.limit.limit, 20);
    assert.equal(subject.limit.longRtt, 10);
  });
});
