// The per-order saga lock on the memory store and on Redis: one holder at a
// time in and across processes, a dead holder's lease expires, a waiter
// gives up after waitMs, a lease taken over is reported lost.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LeaseLostError } from '../../adapters/saga/errors.ts';
import { NOT_ACQUIRED, OrderLocks } from '../../adapters/saga/lock.ts';
import { createRedis } from '../../platform/redis.ts';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '../../platform/state/kv.ts';
import { clearRedis } from '../helpers/redis.ts';
import { REDIS_URL, randomTag, sleep, waitFor } from './helpers.ts';

const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
const prefix = `facet:saga:test-lock-${randomTag()}:`;
after(async () => {
  await clearRedis([prefix]);
  redis.disconnect();
});

for (const kind of ['memory', 'redis'] as const) {
  describe(`saga lock on the ${kind} store`, () => {
    const store = async (): Promise<KeyValueStore> => {
      if (kind === 'memory') return new MemoryKeyValueStore();
      await waitFor(() => redis.status === 'ready', 5_000, 'redis');
      return new RedisKeyValueStore(redis);
    };

    it('runs one holder per order at a time, in and across processes; other orders in parallel', async () => {
      const kv = await store();
      const a = new OrderLocks(kv, { keyPrefix: prefix, pollMs: 5 });
      const b = new OrderLocks(kv, { keyPrefix: prefix, pollMs: 5 }); // another process
      const log: string[] = [];
      const job = (locks: OrderLocks, order: string, name: string) =>
        locks.run(order, async () => {
          log.push(`${name}+`);
          await sleep(30);
          log.push(`${name}-`);
          return name;
        });
      const results = await Promise.all([job(a, 'o1', 'a1'), job(a, 'o1', 'a2'), job(b, 'o1', 'b1'), job(a, 'o2', 'x')]);
      assert.deepEqual(results, ['a1', 'a2', 'b1', 'x']);
      const o1 = log.filter((e) => !e.startsWith('x'));
      for (let i = 0; i < o1.length; i += 2) assert.equal(o1[i]?.slice(0, -1), o1[i + 1]?.slice(0, -1), `no overlap: ${o1.join(' ')}`);
      assert.ok(log.indexOf('x+') < log.indexOf('a1-'), 'another order does not wait');
      assert.equal(await kv.get(a.key('o1')), null, 'released');
    });

    it('takes over the lease of a holder that died once it expires; gives up after waitMs', async () => {
      const kv = await store();
      const order = `dead-${randomTag()}`;
      await kv.set(`${prefix}${order}:lock`, 'a killed process', 1);
      const patient = new OrderLocks(kv, { keyPrefix: prefix, waitMs: 3_000, pollMs: 20 });
      const started = Date.now();
      assert.equal(await patient.run(order, async () => 'mine'), 'mine');
      assert.ok(Date.now() - started >= 500, 'waited for the expiry');

      await kv.set(`${prefix}${order}:lock`, 'someone slow', 5);
      const hasty = new OrderLocks(kv, { keyPrefix: prefix, waitMs: 100, pollMs: 20 });
      assert.equal(await hasty.run(order, async () => 'never'), NOT_ACQUIRED);
    });

    it('reports a lease taken over while held', async () => {
      const kv = await store();
      const locks = new OrderLocks(kv, { keyPrefix: prefix, ttlSec: 1 });
      const order = `stolen-${randomTag()}`;
      await assert.rejects(
        locks.run(order, async (lease) => {
          await kv.set(locks.key(order), 'another holder', 5);
          await sleep(450); // one renewal (every ttl/3) notices
          lease.assertHeld();
        }),
        LeaseLostError,
      );
      assert.equal(await kv.get(locks.key(order)), 'another holder', 'not released from under its new holder');
    });
  });
}
