// What Facet keeps in Redis cannot be rebuilt from anywhere else: saga state
// (an order waiting for its price is resumed only from it), idempotency
// records and pending orders, API-made seller keys. A Redis that restarts
// empty loses them: an order whose quote.ready arrives after the restart
// finds no saga and stays PRICING forever. So in production the gateway and
// the adapters start only on a Redis that keeps an append-only file, unless
// the operator says in so many words that losing it is acceptable.

import type { Redis } from 'ioredis';
import { createRedis, dataNodes, describeRedisTarget, redisReady, type RedisClient, type RedisTarget } from '../redis.ts';

export const ALLOW_VOLATILE_REDIS = 'FACET_ALLOW_VOLATILE_REDIS';

export interface RedisPersistence {
  /** appendonly yes: every write logged, replayed at start. */
  aof: boolean;
  /** RDB snapshots configured (kept for the message: they lose the last minutes). */
  rdb: boolean;
}

function field(info: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return match?.[1]?.trim();
}

/** Reads INFO persistence (works where CONFIG is renamed away, as on managed RedisClient). */
export async function readPersistence(redis: Redis): Promise<RedisPersistence> {
  const info = await redis.info('persistence');
  const aof = field(info, 'aof_enabled') === '1';
  // The save schedule is only in CONFIG; where CONFIG is renamed away, count it as none.
  let rdb: boolean;
  try {
    const save = (await redis.config('GET', 'save')) as string[];
    rdb = Boolean(save[1]?.trim());
  } catch {
    rdb = false;
  }
  return { aof, rdb };
}

export class VolatileRedisError extends Error {}

/**
 * Throws VolatileRedisError in production when Redis has no AOF and
 * FACET_ALLOW_VOLATILE_REDIS is not "true"; returns a warning to log
 * otherwise (undefined when all is well).
 */
export async function checkRedisDurability(redis: RedisClient, env: NodeJS.ProcessEnv, role: string): Promise<string | undefined> {
  if (env.NODE_ENV !== 'production') return undefined;
  // On a Cluster every master holds a share of the keys: all must keep an AOF.
  const each = await Promise.all(dataNodes(redis).map((node) => readPersistence(node)));
  const persistence: RedisPersistence = { aof: each.length > 0 && each.every((p) => p.aof), rdb: each.some((p) => p.rdb) };
  if (persistence.aof) return undefined;
  const what = persistence.rdb ? 'only RDB snapshots (the writes since the last one are lost on a restart)' : 'no persistence at all';
  const message =
    `${role}: Redis has ${what}. Saga state, idempotency records, pending orders and API-made keys live there; ` +
    `a restart would lose accepted orders mid-flow. Turn on the append-only file (appendonly yes, appendfsync everysec; see docs/deploy.md "Redis persistence"), ` +
    `or set ${ALLOW_VOLATILE_REDIS}=true to accept that loss.`;
  if (env[ALLOW_VOLATILE_REDIS] === 'true') return `${message} (${ALLOW_VOLATILE_REDIS}=true: starting anyway)`;
  throw new VolatileRedisError(message);
}

/** checkRedisDurability on a connection of its own (closed after), for a process's start. */
export async function checkRedisUrlDurability(target: string | RedisTarget, env: NodeJS.ProcessEnv, role: string, readyTimeoutMs = 30_000): Promise<string | undefined> {
  if (env.NODE_ENV !== 'production') return undefined;
  const chosen: RedisTarget = typeof target === 'string' ? { kind: 'single', url: target } : target;
  const redis = createRedis({ target: chosen, commandTimeoutMs: 5_000 });
  try {
    await redisReady(redis, readyTimeoutMs, `${role}: ${describeRedisTarget(chosen)}`);
    return await checkRedisDurability(redis, env, role);
  } finally {
    redis.disconnect();
  }
}
