// Both simulators in one process: `node sim/main.ts` (env as in sim/crm/main.ts and sim/mes/main.ts).
import { pino } from 'pino';
import { loggerOptions } from '../platform/logging.ts';
import { generateDataset } from './data/seed.ts';
import { crmOptionsFromEnv, mainCrm } from './crm/main.ts';
import { mainMes, mesBusFromEnv, mesOptionsFromEnv } from './mes/main.ts';
import { shutdownTelemetry } from '../platform/telemetry/api.ts';

const crmOptions = crmOptionsFromEnv();
const mesOptions = mesOptionsFromEnv();
const logger = pino(loggerOptions('facet-sim'));
// One dataset for both: MES copies what it needs before the CRM owns (and mutates) it.
const dataset = generateDataset(crmOptions.seed, crmOptions.sellerCount, crmOptions.orderCount);
// With AMQP_URL the MES publishes its legacy events on RabbitMQ, as the real one does.
const bus = mesBusFromEnv(logger);
const mes = await mainMes({ ...mesOptions, dataset, logger, ...(bus ? { bus } : {}) });
const crm = await mainCrm({ ...crmOptions, dataset, logger });

const stop = (): void => {
  void Promise.all([crm.close(), mes.close()]).then(() => bus?.close()).then(() => shutdownTelemetry()).then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
