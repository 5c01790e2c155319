import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PRIORITY_CLASSES, type PriorityClass } from '../../policies/load-shed/settings.ts';
import { EventLoopGuard, histogramDelaySource, type LoopDelaySource } from '../../policies/load-shed/event-loop-guard.ts';

const SETTINGS = { eventLoopDelayMs: { write: 400, 'paid-read': 200, 'free-read': 100 }, eventLoopSampleMs: 100 };

interface FakeSource extends LoopDelaySource {
  delayMs: number;
  calls: string[];
}

function fakeSource(delayMs = 0): FakeSource {
  const calls: string[] = [];
  const source: FakeSource = {
    delayMs,
    calls,
    start: () => void calls.push('start'),
    stop: () => void calls.push('stop'),
    read: () => source.delayMs,
  };
  return source;
}

function shedClasses(guard: EventLoopGuard): PriorityClass[] {
  return PRIORITY_CLASSES.filter((cls) => guard.shouldShed(cls));
}

describe('EventLoopGuard', () => {
  it('sheds free reads first, then paid reads, then writes; critical never', () => {
    const source = fakeSource();
    const guard = new EventLoopGuard(SETTINGS, source);
    const at = (delayMs: number) => {
      source.delayMs = delayMs;
      guard.sample();
      return shedClasses(guard);
    };
    assert.deepEqual(at(0), []);
    assert.deepEqual(at(100), [], 'the threshold itself is still fine');
    assert.deepEqual(at(101), ['free-read']);
    assert.deepEqual(at(250), ['paid-read', 'free-read']);
    assert.deepEqual(at(450), ['write', 'paid-read', 'free-read']);
    assert.deepEqual(at(60_000), ['write', 'paid-read', 'free-read']);
    assert.deepEqual(at(20), [], 'recovers with the next interval');
  });

  it('decides from the last sampled interval, not the live value', () => {
    const source = fakeSource(500);
    const guard = new EventLoopGuard(SETTINGS, source);
    assert.equal(guard.shouldShed('free-read'), false);
    assert.equal(guard.sample(), 500);
    assert.equal(guard.delayMs, 500);
    source.delayMs = 0;
    assert.equal(guard.shouldShed('free-read'), true);
  });

  it('start and stop drive the source once each; stop forgets the delay', () => {
    const source = fakeSource(300);
    const guard = new EventLoopGuard(SETTINGS, source);
    guard.start();
    guard.start();
    guard.sample();
    guard.stop();
    guard.stop();
    assert.deepEqual(source.calls, ['start', 'stop']);
    assert.equal(guard.delayMs, 0);
  });

  it('the default source reads perf_hooks as a delay in ms', () => {
    const source = histogramDelaySource(100);
    source.start();
    try {
      const ms = source.read();
      assert.ok(Number.isFinite(ms) && ms >= 0, String(ms));
    } finally {
      source.stop();
    }
  });
});
