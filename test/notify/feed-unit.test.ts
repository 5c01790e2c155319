// The feed's parts without servers: the in-process ring (the embedded
// default) and a stream client's backpressure.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { MemoryFeedLog } from '../../gateway/notify/feed-log.ts';
import { OrderFeed } from '../../gateway/notify/order-feed.ts';
import { StreamClient } from '../../gateway/notify/stream-client.ts';

function fakeResponse(): { res: ServerResponse; written: string[]; state: { buffered: number; destroyed: boolean; ended: boolean } } {
  const written: string[] = [];
  const state = { buffered: 0, destroyed: false, ended: false };
  const res = {
    get writableLength() {
      return state.buffered;
    },
    write: (text: string) => (written.push(text), true),
    destroy: () => (state.destroyed = true),
    end: () => (state.ended = true),
  } as unknown as ServerResponse;
  return { res, written, state };
}

describe('in-process feed log', () => {
  it('appends an event once, keeps the last N, reports a gap for an id it dropped', async () => {
    const log = new MemoryFeedLog(3);
    const seen: string[] = [];
    log.tail((entries) => seen.push(...entries.map((e) => e.id)));
    assert.equal(await log.append({ eventId: 'a', type: 't', status: 'SHIPPED', data: '{}' }), true);
    assert.equal(await log.append({ eventId: 'a', type: 't', status: 'SHIPPED', data: '{}' }), false);
    for (const id of ['b', 'c', 'd', 'e']) await log.append({ eventId: id, type: 't', status: null, data: '{}' });
    assert.equal(seen.length, 5);
    const fromFirst = await log.since(seen[0] as string, 10);
    assert.equal(fromFirst.gap, true, 'b was dropped after a');
    assert.deepEqual(fromFirst.entries.map((e) => e.id), seen.slice(2));
    const fromThird = await log.since(seen[2] as string, 10);
    assert.equal(fromThird.gap, false);
    assert.deepEqual(fromThird.entries.map((e) => e.id), seen.slice(3));
  });
});

describe('stream client', () => {
  const entry = (id: string, status: string | null) => ({ id, type: 'order.status_changed', status, data: '{}' });

  it('holds live entries while replaying, then sends each once, in order, filtered by status', () => {
    const { res, written } = fakeResponse();
    const client = new StreamClient(res, { statuses: new Set(['SHIPPED']), maxBufferedBytes: 1000 });
    client.offer([entry('1-2', 'SHIPPED'), entry('1-3', 'CLOSED'), entry('1-4', null)]);
    assert.equal(written.length, 0, 'held during the replay');
    client.replay([entry('1-1', 'SHIPPED'), entry('1-2', 'SHIPPED')]);
    assert.deepEqual(written.map((w) => /^id: (\S+)/.exec(w)?.[1]), ['1-1', '1-2', '1-4']);
  });

  it('drops a client that stopped reading instead of buffering without bound', () => {
    const { res, state } = fakeResponse();
    const client = new StreamClient(res, { statuses: new Set(), maxBufferedBytes: 1000 });
    client.replay([]);
    client.offer([entry('1-1', 'SHIPPED')]);
    state.buffered = 5000;
    client.offer([entry('1-2', 'SHIPPED')]);
    assert.equal(state.destroyed, true);
    assert.equal(client.closed, true);
  });
});

describe('the feed’s stream counts', () => {
  /** A response whose socket may already be gone ('close' emitted before the feed saw it). */
  function response(destroyed: boolean): ServerResponse & EventEmitter {
    return Object.assign(new EventEmitter(), { destroyed, writableLength: 0, write: () => true, destroy() {}, end() {} }) as unknown as ServerResponse & EventEmitter;
  }
  const feedOf = () => new OrderFeed(new MemoryFeedLog(10), { heartbeatMs: 60_000, maxBufferedBytes: 1_024, replayLimit: 10, maxStreamsPerOwner: 1, maxStreams: 10 });

  it('a stream holds its owner’s slot until its socket closes', async () => {
    const feed = feedOf();
    const res = response(false);
    await feed.open(res, { statuses: new Set(), lastEventId: undefined, owner: 'op_a' });
    assert.equal(feed.clientCount, 1);
    assert.equal(feed.refusal('op_a'), 'owner_limit');
    res.emit('close');
    res.emit('close');
    assert.equal(feed.clientCount, 0);
    assert.equal(feed.refusal('op_a'), undefined, 'freed once, not twice');
  });

  it('a client gone before its stream opened (during authentication) takes no slot', async () => {
    const feed = feedOf();
    await feed.open(response(true), { statuses: new Set(), lastEventId: undefined, owner: 'op_a' });
    assert.equal(feed.clientCount, 0);
    assert.equal(feed.refusal('op_a'), undefined);
  });
});

describe('webhook backoff with jitter', () => {
  it('picks one of four variants of the level, all of them declared delay levels', async () => {
    const { jitteredDelay, jitteredLevels } = await import('../../adapters/webhooks/backoff.ts');
    const schedule = [5_000, 300_000, 1_800_000];
    const levels = jitteredLevels(schedule);
    assert.equal(levels.length, 12);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = jitteredDelay(schedule, 2);
      assert.ok(levels.includes(d));
      assert.ok(d >= 240_000 && d <= 360_000);
      seen.add(d);
    }
    assert.equal(seen.size, 4, 'spread over the variants');
    assert.equal(jitteredDelay(schedule, 9, () => 0), 1_440_000, 'the last level repeats');
  });

  it('the bus takes a handler’s own delay only when it is one of the levels', async () => {
    const { decide, resolveSpec } = await import('../../platform/bus/consumer-policy.ts');
    const spec = resolveSpec({ queue: 'q', bindings: [{ exchange: 'commands', pattern: 'x' }], retryDelaysMs: [10, 20, 30], maxAttempts: 3 });
    assert.deepEqual(decide({ retryInMs: 30 }, 'r', 1, spec), { action: 'retry', delayMs: 30, nextAttempt: 2, reason: 'r' });
    assert.deepEqual(decide({ retryInMs: 999 }, 'r', 1, spec), { action: 'retry', delayMs: 10, nextAttempt: 2, reason: 'r' });
    assert.equal(decide({ retryInMs: 30 }, 'r', 3, spec).action, 'dead');
  });
});
