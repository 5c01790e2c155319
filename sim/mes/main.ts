// Standalone MES simulator: `node sim/mes/main.ts`.
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { loggerOptions } from '../../platform/logging.ts';
import { createBus } from '../../platform/bus/index.ts';
import { shutdownTelemetry } from '../../platform/telemetry/api.ts';
import type { Bus, BusLogger } from '../../platform/bus/index.ts';
import { seedFromEnv } from '../data/seed.ts';
import { timeScaleFromEnv } from '../shared/clock.ts';
import { simEnv } from '../shared/env.ts';
import { faultsFromEnv } from '../shared/faults.ts';
import { DEFAULT_LATENCY, intFromEnv, latencyFromEnv, numberFromEnv } from '../shared/latency.ts';
import { DEFAULT_CAPACITY } from './manufacturing.ts';
import { DEFAULT_MAX_MODEL_BYTES } from './models.ts';
import { DEFAULT_DASHBOARD_LATENCY, startMesSim } from './start.ts';
import type { MesSimHandle, MesSimOptions } from './start.ts';

/** MES options from MES_PORT, MES_ADMIN_PORT, SIM_HOST, SIM_SEED, SIM_TIME_SCALE, MES_FAULTS, ... */
export function mesOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): MesSimOptions {
  const priceFailRate = numberFromEnv('MES_PRICE_FAIL_RATE', 0, env);
  if (priceFailRate > 1) throw new Error('MES_PRICE_FAIL_RATE must be between 0 and 1');
  const options: MesSimOptions = {
    ...simEnv(env),
    port: intFromEnv('MES_PORT', 8091, env),
    adminPort: intFromEnv('MES_ADMIN_PORT', 8191, env),
    seed: seedFromEnv(env),
    timeScale: timeScaleFromEnv(env),
    latency: latencyFromEnv('MES_LATENCY', DEFAULT_LATENCY, env),
    dashboardLatency: {
      baseMs: numberFromEnv('MES_DASHBOARD_BASE_MS', DEFAULT_DASHBOARD_LATENCY.baseMs, env),
      perOrderMs: numberFromEnv('MES_DASHBOARD_PER_ORDER_MS', DEFAULT_DASHBOARD_LATENCY.perOrderMs, env),
    },
    faults: faultsFromEnv('MES_FAULTS', env),
    maxModelBytes: intFromEnv('MES_MAX_MODEL_BYTES', DEFAULT_MAX_MODEL_BYTES, env),
    priceFailRate,
    capacity: intFromEnv('MES_CAPACITY', DEFAULT_CAPACITY, env),
  };
  if (env.MES_STORAGE_DIR) options.storageDir = env.MES_STORAGE_DIR;
  return options;
}

export async function mainMes(options: MesSimOptions = mesOptionsFromEnv()): Promise<MesSimHandle> {
  const logger = options.logger ?? pino(loggerOptions('facet-mes-sim'));
  const sim = await startMesSim({ ...options, logger });
  if (logger) {
    logger.info({ url: sim.url, admin_url: sim.adminUrl, time_scale: sim.clock.timeScale, bus: options.bus?.kind ?? 'none' }, 'MES simulator listening');
  }
  return sim;
}

/**
 * Like the real MES, the simulator publishes its events on RabbitMQ when
 * AMQP_URL is set (AMQP_PREFIX: the topology prefix, default facet.v1).
 * The caller closes the bus after the simulator.
 */
export function mesBusFromEnv(logger: BusLogger, env: NodeJS.ProcessEnv = process.env): Bus | undefined {
  const url = env.AMQP_URL || undefined;
  return url ? createBus({ url, logger, ...(env.AMQP_PREFIX ? { prefix: env.AMQP_PREFIX } : {}) }) : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const logger = pino(loggerOptions('facet-mes-sim'));
  const bus = mesBusFromEnv(logger);
  const sim = await mainMes({ ...mesOptionsFromEnv(), logger, ...(bus ? { bus } : {}) });
  const stop = (): void => void sim.close().then(() => bus?.close()).then(() => shutdownTelemetry()).then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
