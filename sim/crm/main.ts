// Standalone CRM simulator: `node sim/crm/main.ts`.
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { loggerOptions } from '../../platform/logging.ts';
import { seedFromEnv } from '../data/seed.ts';
import { simEnv } from '../shared/env.ts';
import { faultsFromEnv } from '../shared/faults.ts';
import { intFromEnv, latencyFromEnv } from '../shared/latency.ts';
import { DEFAULT_LATENCY } from '../shared/latency.ts';
import { startCrmSim } from './start.ts';
import { shutdownTelemetry } from '../../platform/telemetry/api.ts';
import type { CrmSimHandle, CrmSimOptions } from './start.ts';

/** CRM options from CRM_PORT, CRM_ADMIN_PORT, SIM_HOST, SIM_SEED, CRM_FAULTS, CRM_WORKERS, ... */
export function crmOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): CrmSimOptions {
  const common = simEnv(env);
  return {
    ...common,
    port: intFromEnv('CRM_PORT', 8092, env),
    adminPort: intFromEnv('CRM_ADMIN_PORT', 8192, env),
    seed: seedFromEnv(env),
    latency: latencyFromEnv('CRM_LATENCY', DEFAULT_LATENCY, env),
    faults: faultsFromEnv('CRM_FAULTS', env),
    workers: intFromEnv('CRM_WORKERS', 0, env),
  };
}

export async function mainCrm(options: CrmSimOptions = crmOptionsFromEnv()): Promise<CrmSimHandle> {
  const logger = options.logger ?? pino(loggerOptions('facet-crm-sim'));
  const sim = await startCrmSim({ ...options, logger });
  if (logger) logger.info({ url: sim.url, admin_url: sim.adminUrl }, 'CRM simulator listening');
  return sim;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sim = await mainCrm();
  const stop = (): void => void sim.close().then(() => shutdownTelemetry()).then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
