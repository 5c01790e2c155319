// The one place Facet's Redis clients are made, whatever the topology:
//   REDIS_URL                                one node (or a primary endpoint that follows failover)
//   REDIS_CLUSTER_NODES=h1:p1,h2:p2,...     Redis Cluster, through ioredis's `Cluster` (seeds; the rest is discovered)
//   REDIS_SENTINELS=h1:p1,... + REDIS_SENTINEL_NAME   the primary that Sentinel names, followed across failovers
// (REDIS_PASSWORD / REDIS_USERNAME authenticate the cluster's nodes and
// Sentinel's primary; with REDIS_URL they go in the URL.)
// Commands fail fast instead of queueing while Redis is away, so callers
// fall back at once (insurance limiter, upstream reads) rather than waiting
// on a dead connection. On a Cluster the same holds per node: a command to
// a master that died fails within `commandTimeoutMs`, and ioredis finds the
// promoted replica on its next slot refresh.
//
// Key layout: whatever one Lua script or MULTI touches shares a hash tag
// (`{...}`), so it runs on a Cluster too (docs/deploy.md "Redis topologies").

import { Cluster, Redis, type RedisOptions as IORedisOptions } from 'ioredis';

/** A client of either shape: both expose the same commands, `status` and events. */
export type RedisClient = Redis | Cluster;

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; username?: string; password?: string };

export interface RedisOptions {
  /** One node (kept for callers that only ever talk to one). */
  url?: string;
  /** Any topology; wins over `url`. */
  target?: RedisTarget;
  commandTimeoutMs: number;
}

export class RedisTargetError extends Error {}

function hostPorts(raw: string, name: string): HostPort[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || !Number.isInteger(port) || port < 1 || port > 65535) throw new RedisTargetError(`${name}: "${entry}" is not host:port`);
      return { host: match[1] as string, port };
    });
  if (list.length === 0) throw new RedisTargetError(`${name} names no host:port`);
  return list;
}

/**
 * The Redis topology the environment names, or undefined (no Redis: the
 * in-process stores of the embedded default). Naming two topologies at once
 * is refused rather than guessed.
 */
export function redisTargetFromEnv(env: NodeJS.ProcessEnv): RedisTarget | undefined {
  const url = env.REDIS_URL?.trim();
  const clusterNodes = env.REDIS_CLUSTER_NODES?.trim();
  const sentinels = env.REDIS_SENTINELS?.trim();
  const named = [url && 'REDIS_URL', clusterNodes && 'REDIS_CLUSTER_NODES', sentinels && 'REDIS_SENTINELS'].filter(Boolean);
  if (named.length > 1) throw new RedisTargetError(`set one Redis topology, not ${named.join(' and ')}`);
  const auth = { ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}), ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}) };
  if (clusterNodes) return { kind: 'cluster', nodes: hostPorts(clusterNodes, 'REDIS_CLUSTER_NODES'), ...auth };
  if (sentinels) {
    const name = env.REDIS_SENTINEL_NAME?.trim();
    if (!name) throw new RedisTargetError('REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the monitored primary, e.g. mymaster)');
    return { kind: 'sentinel', sentinels: hostPorts(sentinels, 'REDIS_SENTINELS'), name, ...auth };
  }
  if (url) return { kind: 'single', url };
  return undefined;
}

/** For logs and errors: never the password. */
export function describeRedisTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'single': {
      try {
        const u = new URL(target.url);
        return `${u.protocol}//${u.host}${u.pathname}`;
      } catch {
        return 'REDIS_URL';
      }
    }
    case 'cluster':
      return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
    case 'sentinel':
      return `sentinel ${target.name} via ${target.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  }
}

const retryStrategy = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 5), 2000);

function nodeOptions(commandTimeoutMs: number): IORedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
  };
}

export function createRedis({ url, target, commandTimeoutMs }: RedisOptions): RedisClient {
  const chosen: RedisTarget | undefined = target ?? (url ? { kind: 'single', url } : undefined);
  if (!chosen) throw new RedisTargetError('createRedis needs a url or a target');
  let client: RedisClient;
  switch (chosen.kind) {
    case 'single':
      // Commands issued in the same tick share one round trip.
      client = new Redis(chosen.url, { ...nodeOptions(commandTimeoutMs), enableAutoPipelining: true, retryStrategy });
      break;
    case 'sentinel':
      client = new Redis({
        ...nodeOptions(commandTimeoutMs),
        enableAutoPipelining: true,
        sentinels: chosen.sentinels,
        name: chosen.name,
        ...(chosen.username ? { username: chosen.username } : {}),
        ...(chosen.password ? { password: chosen.password } : {}),
        sentinelRetryStrategy: retryStrategy,
        retryStrategy,
      });
      break;
    case 'cluster':
      client = new Cluster(chosen.nodes, {
        enableAutoPipelining: true,
        enableOfflineQueue: false,
        // Reads and writes on masters: a replica's copy may lag, and quotas and idempotency need the latest.
        scaleReads: 'master',
        clusterRetryStrategy: retryStrategy,
        // A command to a master that just died, or to a cluster without a
        // quorum, fails at once, as on one node: ioredis would otherwise retry
        // it every retryDelay up to maxRedirections (16 × 200 ms), stalling
        // the request for seconds instead of letting the caller fall back
        // (insurance limiter, upstream read, 503 + Retry-After). MOVED is
        // still followed at once (a resharded or failed-over slot).
        retryDelayOnFailover: 0,
        retryDelayOnClusterDown: 0,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: 1000,
        // A master that dies leaves stale slots until the map is read again.
        slotsRefreshInterval: 2000,
        redisOptions: {
          commandTimeout: commandTimeoutMs,
          maxRetriesPerRequest: 0,
          connectTimeout: 1000,
          ...(chosen.username ? { username: chosen.username } : {}),
          ...(chosen.password ? { password: chosen.password } : {}),
        },
      });
      break;
  }
  // Errors are reported by the owner's 'error' listener; without one, ioredis would print them.
  client.on('error', () => {});
  return client;
}

export interface DuplicateOverrides {
  /** undefined: no per-command timeout (a blocking read). */
  commandTimeout?: number | undefined;
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  enableAutoPipelining?: boolean;
}

/**
 * A second connection to the same Redis (a subscriber, a blocking reader).
 * `Cluster.duplicate` takes cluster options with the per-node ones nested,
 * `Redis.duplicate` flat ones: this maps one set of overrides onto either.
 */
export function duplicateRedis(client: RedisClient, overrides: DuplicateOverrides): RedisClient {
  let copy: RedisClient;
  if (client instanceof Cluster) {
    const { enableOfflineQueue, enableAutoPipelining, ...perNode } = overrides;
    copy = client.duplicate([], {
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
      redisOptions: { ...client.options.redisOptions, ...perNode },
    });
  } else {
    copy = client.duplicate(overrides);
  }
  copy.on('error', () => {});
  return copy;
}

/** Resolves once the client is ready; rejects after `timeoutMs` (the message names the target, not its password). */
export async function redisReady(client: RedisClient, timeoutMs: number, what: string): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`Redis (${what}) not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/** The nodes that hold data (every master of a Cluster, else the one node), for checks such as persistence. */
export function dataNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
