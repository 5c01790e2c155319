// The feed's parts without servers: the in-process ring (the embedded
// default) and a stream client's backpressure.

import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { MemoryFeedLog } from '../../gateway/notify/feed-log.ts';
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
