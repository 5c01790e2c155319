// `npm start` with REDIS_URL exited 1 one start in three: the demo records
// were written while the state store's Redis connection (offline queue off)
// was still connecting. Seeding now waits for the store; a store that never
// comes is reported, not fatal.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { records } from '../../gateway/operations/records.ts';
import { createRedis } from '../../platform/redis.ts';
import { RedisKeyValueStore } from '../../platform/state/kv.ts';
import { DEMO_UPLOAD, seedDemoRecords } from '../../entries/demo.ts';
import { seedWhenReady } from '../../entries/seed-when-ready.ts';
import { REDIS_URL, clearRedis } from '../helpers/redis.ts';

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  return { lines, info: (_: object, msg: string) => void lines.push({ level: 'info', msg }), warn: (_: object, msg: string) => void lines.push({ level: 'warn', msg }) };
}

describe('demo records seeded when the state store is ready', () => {
  const connections: ReturnType<typeof createRedis>[] = [];
  after(() => {
    for (const c of connections) c.disconnect();
  });

  it('a connection still connecting: the plain seed fails at once, seedWhenReady waits and seeds', async () => {
    await clearRedis();
    const early = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
    connections.push(early);
    await assert.rejects(seedDemoRecords(new RedisKeyValueStore(early), undefined), /State store unavailable|redis/i, 'the race npm start lost');

    const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
    connections.push(redis);
    assert.notEqual(redis.status, 'ready', 'the seed starts before the connection is up');
    const state = new RedisKeyValueStore(redis);
    const log = recordingLog();
    assert.equal(await seedWhenReady(() => seedDemoRecords(state, undefined), log), true);
    const quote = await records.quote.get(state, DEMO_UPLOAD.quote.id);
    assert.equal(quote?.status, 'ready');
  });

  it('a store that never answers: reported after the deadline, never thrown', async () => {
    const nowhere = createRedis({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 });
    connections.push(nowhere);
    const log = recordingLog();
    const seeded = await seedWhenReady(() => seedDemoRecords(new RedisKeyValueStore(nowhere), undefined), log, { timeoutMs: 600, initialDelayMs: 50 });
    assert.equal(seeded, false);
    assert.match(log.lines.at(-1)?.msg ?? '', /demo records not seeded/);
  });

  it('other errors are not swallowed', async () => {
    await assert.rejects(seedWhenReady(() => Promise.reject(new TypeError('a bug')), recordingLog()), TypeError);
  });
});
