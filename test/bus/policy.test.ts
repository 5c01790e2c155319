// The pure parts both buses share: topic matching, spec validation, the
// retry decision, reconnect backoff.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, delayFor, resolveSpec } from '../../platform/bus/consumer-policy.ts';
import { backoffDelay } from '../../platform/bus/rabbit-connection.ts';
import { topicMatches } from '../../platform/bus/topic.ts';

describe('topicMatches', () => {
  const cases: [string, string, boolean][] = [
    ['order.created', 'order.created', true],
    ['order.*', 'order.created', true],
    ['order.*', 'order', false],
    ['order.*', 'order.status.changed', false],
    ['order.#', 'order', true],
    ['order.#', 'order.status.changed', true],
    ['#', 'anything.at.all', true],
    ['*.ready', 'quote.ready', true],
    ['#.ready', 'a.b.quote.ready', true],
    ['order.#.changed', 'order.changed', true],
    ['order.#.changed', 'order.status.x.changed', true],
    ['order.#.changed', 'order.status.created', false],
    ['order.created', 'order.created.v2', false],
  ];
  for (const [pattern, key, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${key}`, () => assert.equal(topicMatches(pattern, key), expected));
  }
});

describe('resolveSpec', () => {
  const base = { queue: 'crm.orders', bindings: [{ exchange: 'commands' as const, pattern: 'order.*' }] };
  it('applies the defaults', () => {
    assert.deepEqual(resolveSpec(base), { ...base, prefetch: 10, maxAttempts: 5, retryDelaysMs: [1000, 5000, 30000] });
  });
  it('names the field that is wrong', () => {
    assert.throws(() => resolveSpec({ ...base, queue: 'bad name' }), /queue/);
    assert.throws(() => resolveSpec({ ...base, bindings: [] }), /bindings must not be empty/);
    assert.throws(() => resolveSpec({ ...base, bindings: [{ exchange: 'events', pattern: 'a..b' }] }), /bindings\[0\]\.pattern/);
    assert.throws(() => resolveSpec({ ...base, maxAttempts: 0 }), /maxAttempts/);
    assert.throws(() => resolveSpec({ ...base, prefetch: 1.5 }), /prefetch/);
    assert.throws(() => resolveSpec({ ...base, retryDelaysMs: [-1] }), /retryDelaysMs/);
  });
});

describe('retry decision', () => {
  const spec = resolveSpec({ queue: 'q', bindings: [{ exchange: 'events', pattern: '#' }], maxAttempts: 4, retryDelaysMs: [10, 20] });
  it('uses the delay level of the failed attempt, the last one repeating', () => {
    assert.deepEqual([1, 2, 3, 4].map((a) => delayFor(spec.retryDelaysMs, a)), [10, 20, 20, 20]);
    assert.equal(delayFor([], 3), 0);
  });
  it('retries until maxAttempts, then parks with the reason', () => {
    assert.deepEqual(decide('retry', 'x', 1, spec), { action: 'retry', delayMs: 10, nextAttempt: 2, reason: 'x' });
    assert.deepEqual(decide('retry', 'boom', 4, spec), { action: 'dead', reason: 'boom (after 4 attempts)' });
    assert.deepEqual(decide({ dead: 'poison' }, 'poison', 1, spec), { action: 'dead', reason: 'poison' });
    assert.deepEqual(decide('ack', '', 1, spec), { action: 'ack' });
  });
  it('a deferral goes back after its delay without counting an attempt, even at the last one', () => {
    assert.deepEqual(decide({ deferInMs: 20 }, 'deferred', 2, spec), { action: 'retry', delayMs: 20, nextAttempt: 2, reason: 'deferred' });
    assert.deepEqual(decide({ deferInMs: 20 }, 'deferred', 4, spec), { action: 'retry', delayMs: 20, nextAttempt: 4, reason: 'deferred' });
    assert.deepEqual(decide({ deferInMs: 999 }, 'deferred', 1, spec), { action: 'retry', delayMs: 10, nextAttempt: 1, reason: 'deferred' }, 'no delay queue for 999 ms: the first level');
  });
});

describe('backoffDelay', () => {
  it('doubles from the minimum, stays within [base/2, base] and under the cap', () => {
    assert.equal(backoffDelay(0, 100, 10_000, () => 1), 100);
    assert.equal(backoffDelay(0, 100, 10_000, () => 0), 50);
    assert.equal(backoffDelay(3, 100, 10_000, () => 1), 800);
    assert.equal(backoffDelay(50, 100, 10_000, () => 1), 10_000);
    assert.equal(backoffDelay(50, 100, 10_000, () => 0), 5_000);
  });
});
