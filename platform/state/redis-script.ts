// A Lua script run by its SHA-1 (EVALSHA), loaded on NOSCRIPT: the script's
// text crosses the socket once per Redis server (and after a restart or a
// SCRIPT FLUSH), not with every call, which EVAL would do (the text of a
// short script is most of the bytes written per call). Not ioredis's
// defineCommand: a defined command inside an auto-pipeline breaks the
// pipeline's replies.

import { hash } from 'node:crypto';
import type { RedisClient } from '../redis.ts';

export interface RedisScript {
  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

export function redisScript(source: string): RedisScript {
  const sha = hash('sha1', source, 'hex');
  return {
    async run(redis, keys, args) {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return redis.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}
