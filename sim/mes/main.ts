// Standalone MES simulator: `node sim/mes/main.ts`.
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
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
  const logger = options.logger ?? pino({ name: 'mes-sim', level: process.env.LOG_LEVEL ?? 'info' });
  const sim = await startMesSim({ ...options, logger });
  if (logger) {
    logger.info({ url: sim.url, admin_url: sim.adminUrl, time_scale: sim.clock.timeScale }, 'MES simulator listening');
  }
  return sim;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sim = await mainMes();
  const stop = (): void => void sim.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
