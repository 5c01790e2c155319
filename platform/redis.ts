// The shared Redis client (REDIS_URL). Commands fail fast instead of
// queueing while Redis is away, so callers fall back at once (insurance
// limiter, upstream reads) rather than waiting on a dead connection.

import { Redis } from 'ioredis';

export interface RedisOptions {
  url: string;
  commandTimeoutMs: number;
}

export function createRedis({ url, commandTimeoutMs }: RedisOptions): Redis {
  const client = new Redis(url, {
    // Commands issued in the same tick share one round trip.
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2000),
  });
  // Errors are reported by the owner's 'error' listener; without one, ioredis would print them.
  client.on('error', () => {});
  return client;
}
