// `npm start`: the embedded default. Starts the MES and CRM simulators
// in-process (unless MES_URL / CRM_URL point at real systems), then the
// gateway (entries/gateway-process.ts: the adapters in process, the demo
// credentials printed), records the spec's write examples (and the webhook
// examples' subscription, whose host a local receiver stands in for), and
// drains cleanly on SIGTERM.

import type { Bus } from '../platform/bus/index.ts';
import type { Logger } from 'pino';
import { generateDataset, seedFromEnv } from '../sim/data/seed.ts';
import { startCrmSim, startMesSim, type MesSimHandle } from '../sim/index.ts';
import { DEMO_WEBHOOK, seedDemoKeys, seedDemoRecords, seedDemoWebhooks, startDemoWebhookReceiver } from './demo.ts';
import { runGatewayProcess, type Closer } from './gateway-process.ts';
import { seedWhenReady } from './seed-when-ready.ts';

const env = process.env;
let mes: MesSimHandle | undefined;

/** Starts the simulators not given by URL, and points MES_URL / CRM_URL at them. */
async function startSimulators({ bus, log }: { bus: Bus; log: Logger }): Promise<Closer[]> {
  const closers: Closer[] = [];
  // Demo speed: the slowest (30 min) price job takes 15 s. SIM_TIME_SCALE=1 is real time.
  const timeScale = Number(env.SIM_TIME_SCALE || 120);
  // One dataset for both (generating 50,000 orders takes about a second).
  const dataset = env.MES_URL && env.CRM_URL ? undefined : generateDataset(seedFromEnv(env));
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
  // The webhook examples' host resolves nowhere: its deliveries go to a receiver here (never in production).
  if (env.NODE_ENV !== 'production' && !env.WEBHOOKS_DEMO_HOSTS) {
    // Any free port (WEBHOOK_RECEIVER_PORT to pin one): only the mapping below needs to know it.
    const receiver = await startDemoWebhookReceiver(Number(env.WEBHOOK_RECEIVER_PORT || 0), log);
    env.WEBHOOKS_DEMO_HOSTS = `${DEMO_WEBHOOK.host}=${receiver.origin}`;
    closers.push(() => receiver.close());
    log.info({ host: DEMO_WEBHOOK.host, receiver: receiver.origin }, 'demo webhook receiver started (the spec examples\' host is delivered here)');
  }
  return closers;
}

runGatewayProcess({
  beforeGateway: startSimulators,
  async afterListen(gateway) {
    // The spec's write examples (Try it out) refer to a demo model and quote: record them.
    const models = mes?.store.models;
    if (env.NODE_ENV === 'production' || !models) return;
    const seeded = await seedWhenReady(() => seedDemoRecords(gateway.services.state, models), gateway.app.log);
    // The webhook examples' subscription and delivery, once the (same) store answers; a failure costs only the examples.
    if (seeded) await seedDemoWebhooks(gateway.services.webhooks).catch((error: unknown) => gateway.app.log.warn({ err: error }, 'webhook examples not seeded'));
    // The seller-key examples' key (revokeSellerKey's), in the same store.
    if (seeded) await seedDemoKeys(gateway.services.keys).catch((error: unknown) => gateway.app.log.warn({ err: error }, 'seller-key example not seeded'));
  },
});
