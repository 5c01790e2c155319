// `npm start`: the embedded default. Starts the MES and CRM simulators
// in-process (unless MES_URL / CRM_URL point at real systems), then the
// gateway, prints the demo credentials, and drains cleanly on SIGTERM.

import { resolve } from 'node:path';
import pino from 'pino';
import { POLICIES } from '../policies/index.ts';
import { generateDataset, seedFromEnv } from '../sim/data/seed.ts';
import { startCrmSim, startMesSim, type MesSimHandle } from '../sim/index.ts';
import { createBus, waitForConnection, type Bus } from '../platform/bus/index.ts';
import { startAdapters } from '../adapters/index.ts';
import { busMetricsFor } from '../platform/bus/metrics.ts';
import { createMetrics } from '../platform/metrics/registry.ts';
import { webhooksFromEnv } from '../adapters/webhooks/env.ts';
import { createRedis } from '../platform/redis.ts';
import { MemoryKeyValueStore, RedisKeyValueStore } from '../platform/state/kv.ts';
import { buildGateway } from '../gateway/app.ts';
import { loadConfigFile } from '../gateway/config/load.ts';
import { ConfigError } from '../gateway/config/validate.ts';
import { DEMO_JWT_SECRET, DEMO_KEYS, demoOperatorToken, seedDemoRecords } from './demo.ts';
import { loggerOptions } from '../platform/logging.ts';
import { shutdownTelemetry } from '../platform/telemetry/api.ts';

const env = process.env;
const log = pino(loggerOptions('facet'));
const production = env.NODE_ENV === 'production';
const closers: (() => Promise<void>)[] = [];

/** Starts the simulators not given by URL; returns the in-process MES, if any. */
async function startSimulators(bus: Bus): Promise<MesSimHandle | undefined> {
  // Demo speed: the slowest (30 min) price job takes 15 s. SIM_TIME_SCALE=1 is real time.
  const timeScale = Number(env.SIM_TIME_SCALE || 120);
  // One dataset for both (generating 50,000 orders takes about a second).
  const dataset = env.MES_URL && env.CRM_URL ? undefined : generateDataset(seedFromEnv(env));
  let mes: MesSimHandle | undefined;
  if (!env.MES_URL) {
    const started = await startMesSim({ port: Number(env.MES_PORT || 8091), adminPort: Number(env.MES_ADMIN_PORT || 8191), timeScale, dataset, bus });
    mes = started;
    env.MES_URL = started.url;
    closers.push(() => started.close());
    log.info({ url: started.url, admin: started.adminUrl, timeScale }, 'MES simulator started in-process (set MES_URL to use a real MES)');
  }
  if (!env.CRM_URL) {
    const crm = await startCrmSim({ port: Number(env.CRM_PORT || 8092), adminPort: Number(env.CRM_ADMIN_PORT || 8192), dataset });
    env.CRM_URL = crm.url;
    closers.push(() => crm.close());
    log.info({ url: crm.url, admin: crm.adminUrl }, 'CRM simulator started in-process (set CRM_URL to use a real CRM)');
  }
  return mes;
}

async function main(): Promise<void> {
  const demo = !production && !env.JWT_SECRET;
  if (demo) env.JWT_SECRET = DEMO_JWT_SECRET;
  const configFile = resolve(env.GATEWAY_CONFIG || 'gateway.config.yml');
  // Validate before starting anything, so a bad file fails fast.
  loadConfigFile(configFile, POLICIES);
  // One registry for everything in this process: the gateway's /metrics shows the bus and the saga too.
  const metrics = createMetrics();
  // One bus for everything in this process: RabbitMQ with AMQP_URL, else in process.
  const bus = createBus({ url: env.AMQP_URL || undefined, ...(env.AMQP_PREFIX ? { prefix: env.AMQP_PREFIX } : {}), logger: log, metrics: busMetricsFor(metrics.registry) });
  if (env.AMQP_URL) await waitForConnection(bus, 30_000);
  const mes = await startSimulators(bus);
  // The adapters and the saga run in this process unless they run on their own (`npm run adapters`).
  if (env.FACET_ADAPTERS !== 'external') {
    const redis = env.REDIS_URL ? createRedis({ url: env.REDIS_URL, commandTimeoutMs: 2_000 }) : undefined;
    if (redis && redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const adapters = await startAdapters({
      bus,
      store: redis ? new RedisKeyValueStore(redis) : new MemoryKeyValueStore(),
      webhooks: webhooksFromEnv(env, redis),
      crmUrl: env.CRM_URL as string,
      mesUrl: env.MES_URL as string,
      logger: log,
      registry: metrics.registry,
    });
    closers.unshift(async () => {
      await adapters.close();
      redis?.disconnect();
    });
    log.info('adapters and order saga started in-process (FACET_ADAPTERS=external to run them with npm run adapters)');
  }
  const validated = loadConfigFile(configFile, POLICIES);
  const gateway = await buildGateway(validated, { redisUrl: env.REDIS_URL || undefined, bus, metrics });
  const address = await gateway.app.listen({ port: validated.config.http.port, host: validated.config.http.host });
  closers.unshift(() => gateway.close());
  // The spec's write examples (Try it out) refer to a demo model and quote: record them.
  if (!production && mes) await seedDemoRecords(gateway.services.state, mes.store.models);

  const base = `http://127.0.0.1:${validated.config.http.port}`;
  const lines = [
    `Facet gateway listening on ${address}`,
    `  docs:          ${base}/docs  (internal: ${base}/internal/docs)`,
    `  health:        ${base}/healthz  ${base}/readyz`,
    ...DEMO_KEYS.map((k) => `  seller key:    ${k.key}  (${k.seller}, plan ${k.plan})`),
  ];
  if (demo) lines.push(`  operator JWT:  ${await demoOperatorToken(DEMO_JWT_SECRET)}`);
  lines.push(`  try:           curl -H 'X-API-Key: demo-pro-key' '${base}/v1/orders?limit=2'`);
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining in-flight requests');
    const grace = setTimeout(() => {
      log.error({ graceMs: validated.config.http.shutdownGraceMs }, 'drain took too long; closing connections');
      gateway.app.server.closeAllConnections();
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

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    log.fatal({ err: error }, 'start-up failed');
  }
  process.exit(1);
});
