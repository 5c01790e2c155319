// The local Redis for the scenarios that use one: shared with other work, so
// the benchmark keeps to databases of its own (9, and 10 for the
// notification scenarios). Here: their URLs (for the children), the
// harness's own client of them (probes, set-up, clean-up), and clean-ups
// that delete only keys the benchmark names.

import { Redis } from 'ioredis';
import type { ProcessGroup } from './processes.ts';
import { records } from '../../gateway/operations/records.ts';

/**
 * The Redis the gateway uses when a scenario asks for one: the local server,
 * logical database 9 (BENCH_REDIS_URL overrides), so the benchmark's quota
 * counters and cache entries never mix with those of the test suites and of
 * `npm start`, which use database 0. Pub/sub channels are server-wide: a
 * cache generation bump published by another gateway reaches this one too
 * (it then misses once and refills).
 */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/9';

/** `url` with its logical database replaced by `db`. */
function withDatabase(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.href;
}

/**
 * The notification scenarios' Redis: a database of their own on the same
 * server (10; BENCH_NOTIFY_REDIS_URL overrides). The operators' feed is one
 * Redis stream per database (facet:{orderfeed}:stream) that every gateway of
 * the database appends to and tails: in database 9, the status events of
 * order-writes' saga would reach the SSE clients being measured, and theirs
 * order-writes' gateway.
 */
export const BENCH_NOTIFY_REDIS_URL = process.env.BENCH_NOTIFY_REDIS_URL || withDatabase(BENCH_REDIS_URL, 10);

/** A client of the benchmark's Redis database (or of `url`), closed when the group stops. */
export async function benchRedis(group: ProcessGroup, url = BENCH_REDIS_URL): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`this scenario needs Redis at ${url} (${url === BENCH_REDIS_URL ? 'BENCH_REDIS_URL' : 'BENCH_NOTIFY_REDIS_URL'}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  group.onStop(() => redis.disconnect());
  return redis;
}

/** Deletes the gateway's quota counters of `sellers` in the benchmark's database, so a scenario starts with full windows. */
export async function resetQuotaCounters(redis: Redis, sellers: readonly string[]): Promise<void> {
  const keys = sellers.flatMap((seller) => ['rate', 'burst', 'daily'].map((window) => `facet:q:${window}:{${seller}}`));
  if (keys.length > 0) await redis.del(...keys);
}

/** Empties the live price-job sets of `sellers` (an order that never got a price holds its slot for hours: another scenario's leftovers would answer 429). */
export async function resetPriceJobs(redis: Redis, sellers: readonly string[]): Promise<void> {
  if (sellers.length > 0) await redis.del(...sellers.map((seller) => records.priceJobs.key(seller)));
}

/** Deletes the keys matching `pattern` in the benchmark's database (only there); returns how many. */
export async function deleteBenchKeys(redis: Redis, pattern: string): Promise<number> {
  if (!pattern.startsWith('facet:')) throw new Error(`refusing to delete keys outside facet: (${pattern})`);
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
