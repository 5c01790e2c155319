// `npm run adapters`: the CRM/MES adapters and the order saga as their own
// process (competing consumers: run as many as needed).
//
//   AMQP_URL      RabbitMQ (without it: the in-process bus, useful only for a smoke run)
//   AMQP_URL may list several nodes, comma-separated (a cluster: the bus moves to the next on loss)
//   AMQP_PREFIX   topology prefix, default facet.v1
//   AMQP_QUORUM_GROUP_SIZE  x-quorum-initial-group-size of new quorum queues (default: the broker's)
//   REDIS_URL     saga state (without it: in-process, lost on exit); or REDIS_CLUSTER_NODES,
//                 or REDIS_SENTINELS + REDIS_SENTINEL_NAME (platform/redis.ts)
//   CRM_URL       default http://127.0.0.1:8092
//   MES_URL       default http://127.0.0.1:8091
//   LOG_LEVEL     pino level, default info
//   SAGA_RETRY_DELAYS_MS  comma-separated, default 1000,5000,30000,60000,300000
//   SAGA_MAX_ATTEMPTS     default 10
//   SAGA_LOCK_TTL_SEC     per-order lease, default 10
//   ADAPTERS_HTTP_PORT    /healthz, /readyz, /metrics (ops-server.ts), default 8094; 0 = any free port
//   ADAPTERS_HTTP_HOST    default 0.0.0.0
//   ADAPTERS_SHUTDOWN_GRACE_MS  how long a stop may take before the process exits anyway (1), default 30000
//   WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_MAX_ATTEMPTS, WEBHOOKS_ALLOW_LOOPBACK  see webhooks/env.ts
//
// SIGTERM / SIGINT: /readyz turns 503, stop consuming, let handlers in
// flight finish (their messages are acked), close the bus, Redis and the
// HTTP server, exit 0. A stop that outlasts the grace exits 1: what it left
// unacked goes back to the broker, as after a kill -9, which delivers it again.

import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { busOptionsFromEnv, createBus, waitForConnection } from '../platform/bus/index.ts';
import { busMetricsFor } from '../platform/bus/metrics.ts';
import { startOpsServer, type OpsServer } from './ops-server.ts';
import { loggerOptions } from '../platform/logging.ts';
import { shutdownTelemetry } from '../platform/telemetry/api.ts';
import { createRedis, describeRedisTarget, redisReady, redisTargetFromEnv, type RedisClient, type RedisTarget } from '../platform/redis.ts';
import { checkRedisDurability } from '../platform/state/persistence.ts';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '../platform/state/kv.ts';
import { startAdapters } from './start.ts';
import { webhooksFromEnv } from './webhooks/env.ts';

function numbers(raw: string | undefined, name: string): number[] | undefined {
  if (!raw) return undefined;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`${name} must be comma-separated integers >= 0, got "${raw}"`);
  return list;
}

async function connectRedis(target: RedisTarget, timeoutMs: number): Promise<RedisClient> {
  const redis = createRedis({ target, commandTimeoutMs: 2_000 });
  try {
    await redisReady(redis, timeoutMs, describeRedisTarget(target));
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

function port(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 8094;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`ADAPTERS_HTTP_PORT must be a port number (0 = any), got "${raw}"`);
  return n;
}

export interface AdaptersProcess {
  ops: OpsServer;
  /** What SIGTERM does, minus the exit. */
  stop(signal?: string): Promise<void>;
}

/** Everything `npm run adapters` runs, without the signal handling (tests start it in-process). */
export async function startAdaptersProcess(env: NodeJS.ProcessEnv = process.env): Promise<AdaptersProcess> {
  const logger = pino(loggerOptions('facet-adapters', env.LOG_LEVEL ?? 'info'));
  const registry = new Registry();
  const bus = createBus({
    ...busOptionsFromEnv(env),
    logger,
    metrics: busMetricsFor(registry),
  });
  // Up before the dependencies, so probes see "alive, not ready" while they connect.
  const redisTarget = redisTargetFromEnv(env);
  const ops = await startOpsServer({ bus, registry, expectRedis: Boolean(redisTarget), port: port(env.ADAPTERS_HTTP_PORT), host: env.ADAPTERS_HTTP_HOST || '0.0.0.0' });
  logger.info({ url: ops.url }, 'adapters ops server listening (/healthz, /readyz, /metrics)');
  let redis: RedisClient | undefined;
  try {
    await waitForConnection(bus, 30_000);
    redis = redisTarget ? await connectRedis(redisTarget, 30_000) : undefined;
  } catch (err) {
    await Promise.allSettled([bus.close(), ops.close()]);
    throw err;
  }
  if (!redis) logger.warn('no REDIS_URL (nor REDIS_CLUSTER_NODES / REDIS_SENTINELS): saga state is in-process and lost on exit');
  else {
    try {
      const warning = await checkRedisDurability(redis, env, 'adapters');
      if (warning) logger.warn(warning);
    } catch (err) {
      await Promise.allSettled([bus.close(), ops.close()]);
      redis.disconnect();
      throw err;
    }
  }
  ops.watchRedis(redis);
  const store: KeyValueStore = redis ? new RedisKeyValueStore(redis) : new MemoryKeyValueStore();

  const retryDelaysMs = numbers(env.SAGA_RETRY_DELAYS_MS, 'SAGA_RETRY_DELAYS_MS');
  const maxAttempts = env.SAGA_MAX_ATTEMPTS ? Number(env.SAGA_MAX_ATTEMPTS) : undefined;
  const lockTtl = env.SAGA_LOCK_TTL_SEC ? Number(env.SAGA_LOCK_TTL_SEC) : undefined;
  const adapters = await startAdapters({
    bus,
    store,
    crmUrl: env.CRM_URL || 'http://127.0.0.1:8092',
    mesUrl: env.MES_URL || 'http://127.0.0.1:8091',
    logger,
    registry,
    webhooks: webhooksFromEnv(env, redis),
    saga: {
      ...(retryDelaysMs && { retryDelaysMs }),
      ...(maxAttempts !== undefined && { maxAttempts }),
      ...(lockTtl !== undefined && { lock: { ttlSec: lockTtl, waitMs: lockTtl * 1500 } }),
    },
  });

  let stopping: Promise<void> | undefined;
  const stop = (signal?: string): Promise<void> =>
    (stopping ??= (async () => {
      logger.info({ signal }, 'adapters stopping: no new deliveries, finishing those in flight');
      ops.draining();
      await adapters.close();
      await bus.close();
      await redis?.quit().catch(() => undefined);
      await ops.close();
      logger.info('adapters stopped');
    })());
  return { ops, stop };
}

const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { stop: stopProcess } = await startAdaptersProcess(env);
  const graceMs = Number(env.ADAPTERS_SHUTDOWN_GRACE_MS) || DEFAULT_SHUTDOWN_GRACE_MS;
  const stop = (signal: string): void => {
    setTimeout(() => {
      console.error(`adapters: stop took longer than ${graceMs} ms; exiting (unacked deliveries return to the broker)`);
      process.exit(1);
    }, graceMs).unref();
    stopProcess(signal)
      // Spans of the last deliveries are flushed before the exit.
      .then(() => shutdownTelemetry())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
