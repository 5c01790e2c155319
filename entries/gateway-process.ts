// The gateway process, shared by both entries (gateway.ts for production,
// embedded.ts for `npm start`): one bus and one metrics registry for the
// process, the adapters and the saga in process unless
// FACET_ADAPTERS=external, the gateway, the start-up lines, and a clean
// drain on SIGTERM. What runs before the gateway (the simulators) is the
// entry's; this file imports nothing of sim/.

import { resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { startAdapters } from '../adapters/index.ts';
import { webhooksFromEnv } from '../adapters/webhooks/env.ts';
import type { Generation } from '../gateway/app.ts';
import { startReloadingGateway } from '../gateway/reload.ts';
import { checkRedisUrlDurability } from '../platform/state/persistence.ts';
import { loadConfigFile } from '../gateway/config/load.ts';
import { ConfigError } from '../gateway/config/validate.ts';
import { busOptionsFromEnv, createBus, waitForConnection, type Bus } from '../platform/bus/index.ts';
import { busMetricsFor } from '../platform/bus/metrics.ts';
import { loggerOptions } from '../platform/logging.ts';
import { createMetrics } from '../platform/metrics/registry.ts';
import { createRedis, describeRedisTarget, redisReady, redisTargetFromEnv } from '../platform/redis.ts';
import { MemoryKeyValueStore, RedisKeyValueStore } from '../platform/state/kv.ts';
import { shutdownTelemetry } from '../platform/telemetry/api.ts';
import { POLICIES } from '../policies/index.ts';
import { DEMO_JWT_SECRET, DEMO_KEYS, demoOperatorToken, gatewayEnv } from './demo.ts';

export type Closer = () => Promise<void>;

export interface GatewayProcessOptions {
  /** Runs once the bus is up, before the adapters and the gateway (the simulators); returns what to close on exit. */
  beforeGateway?(context: { bus: Bus; log: Logger }): Promise<Closer[]>;
  /** Runs once the gateway listens (demo records). */
  afterListen?(gateway: Generation): Promise<void>;
}

export function runGatewayProcess(options: GatewayProcessOptions = {}): void {
  const log = pino(loggerOptions('facet'));
  main(log, options).catch((error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
    } else {
      log.fatal({ err: error }, 'start-up failed');
    }
    process.exit(1);
  });
}

async function main(log: Logger, options: GatewayProcessOptions): Promise<void> {
  const env = process.env;
  const closers: Closer[] = [];
  // SIGHUP reloads the config; before the gateway runs it is ignored (its default would end the process).
  let reloadOnSignal = (): void => log.warn('SIGHUP during start-up: ignored');
  process.on('SIGHUP', () => reloadOnSignal());
  const { demo } = gatewayEnv(env);
  if (demo) env.JWT_SECRET = DEMO_JWT_SECRET;
  const configFile = resolve(env.GATEWAY_CONFIG || 'gateway.config.yml');
  // Validate before starting anything, so a bad file fails fast.
  loadConfigFile(configFile, POLICIES);
  // REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (platform/redis.ts); none: in-process stores.
  const redisTarget = redisTargetFromEnv(env);
  // In production, a Redis that would restart empty is refused (platform/state/persistence.ts).
  if (redisTarget) {
    const warning = await checkRedisUrlDurability(redisTarget, env, 'gateway');
    if (warning) log.warn(warning);
  }
  // One registry for everything in this process: the gateway's /metrics shows the bus and the saga too.
  const metrics = createMetrics();
  // One bus for everything in this process: RabbitMQ with AMQP_URL, else in process.
  const bus = createBus({ ...busOptionsFromEnv(env), logger: log, metrics: busMetricsFor(metrics.registry) });
  if (env.AMQP_URL) await waitForConnection(bus, 30_000);
  closers.push(...((await options.beforeGateway?.({ bus, log })) ?? []));
  // Read again: what ran before the gateway may have set MES_URL / CRM_URL.
  const validated = loadConfigFile(configFile, POLICIES);
  // The adapters and the saga run in this process unless they run on their own (`npm run adapters`).
  if (env.FACET_ADAPTERS !== 'external') {
    const crmUrl = env.CRM_URL || validated.config.serviceEndpoints.crm?.url;
    const mesUrl = env.MES_URL || validated.config.serviceEndpoints.mes?.url;
    if (!crmUrl || !mesUrl) throw new Error('the in-process adapters need the CRM and MES: set CRM_URL and MES_URL (or FACET_ADAPTERS=external)');
    const redis = redisTarget ? createRedis({ target: redisTarget, commandTimeoutMs: 2_000 }) : undefined;
    if (redis && redisTarget) await redisReady(redis, 60_000, describeRedisTarget(redisTarget));
    const adapters = await startAdapters({
      bus,
      store: redis ? new RedisKeyValueStore(redis) : new MemoryKeyValueStore(),
      webhooks: webhooksFromEnv(env, redis),
      crmUrl,
      mesUrl,
      logger: log,
      registry: metrics.registry,
    });
    closers.unshift(async () => {
      await adapters.close();
      redis?.disconnect();
    });
    log.info('adapters and order saga started in-process (FACET_ADAPTERS=external to run them with npm run adapters)');
  }
  // Reloaded on SIGHUP and when the file changes (CONFIG_WATCH=off: SIGHUP only); a bad file is refused and the old config serves on.
  const gateway = await startReloadingGateway({
    file: configFile,
    redisTarget,
    bus,
    metrics,
    log,
    watch: env.CONFIG_WATCH !== 'off',
  });
  const address = await gateway.listen(validated.config.http.port, validated.config.http.host);
  log.info({ version: gateway.config().loaded.version, file: configFile }, 'config loaded');
  closers.unshift(() => gateway.close());
  reloadOnSignal = () => {
    log.info({ file: configFile }, 'SIGHUP: reloading the config');
    void gateway.reload('SIGHUP', true);
  };
  await options.afterListen?.(gateway.current());

  const base = `http://127.0.0.1:${validated.config.http.port}`;
  const lines = [
    `Facet gateway listening on ${address}`,
    `  docs:          ${base}/docs  (internal: ${base}/internal/docs)`,
    `  health:        ${base}/healthz  ${base}/readyz`,
    ...DEMO_KEYS.map((k) => `  seller key:    ${k.key}  (${k.seller}, plan ${k.plan})`),
  ];
  lines.push(`  seller portal: ${base}/portal${demo ? `#key=${DEMO_KEYS[1].key}` : ''}`);
  if (demo) {
    const token = await demoOperatorToken(DEMO_JWT_SECRET);
    lines.push(`  operator JWT:  ${token}`);
    // The token rides in the fragment: the browser never sends it to a server; the console keeps it in the tab.
    lines.push(`  console:       ${base}/internal/console#token=${token}`);
  } else {
    lines.push(`  console:       ${base}/internal/console`);
  }
  lines.push(`  try:           curl -H 'X-API-Key: demo-pro-key' '${base}/v1/orders?limit=2'`);
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining in-flight requests');
    const grace = setTimeout(() => {
      log.error({ graceMs: validated.config.http.shutdownGraceMs }, 'drain took too long; closing connections');
      gateway.server.closeAllConnections();
      process.exit(1);
    }, validated.config.http.shutdownGraceMs);
    grace.unref();
    (async () => {
      for (const close of closers) await close();
      await bus.close();
      log.info('stopped');
      // Last: the spans of the drain itself are flushed too.
      await shutdownTelemetry();
      process.exit(0);
    })().catch((error: unknown) => {
      log.error({ err: error }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
