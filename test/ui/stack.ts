// The whole of `npm start` in this process, for the browser tests: both
// simulators (the MES publishing its events), the adapters, the saga and the
// webhook sender on the in-process bus (as `npm start` runs them), shared
// state in the test Redis, and the gateway serving the pages from a bundle
// built into a temporary directory (the tree stays clean).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startAdapters, type Adapters } from '../../adapters/index.ts';
import { buildGateway, type Gateway } from '../../gateway/app.ts';
import { parseConfig } from '../../gateway/config/load.ts';
import { createBus, type Bus } from '../../platform/bus/index.ts';
import { createRedis } from '../../platform/redis.ts';
import { RedisKeyValueStore } from '../../platform/state/kv.ts';
import { RedisWebhookStore } from '../../platform/webhooks/store.ts';
import { POLICIES } from '../../policies/index.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { startCrmSim, startMesSim, type CrmSimHandle, type MesSimHandle } from '../../sim/index.ts';
import { buildUi } from '../../scripts/build-ui.ts';
import { demoOperatorToken } from '../../entries/demo.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { binaryStl } from '../helpers/models.ts';

const JWT_SECRET = 'test-secret-for-the-browser-tests-0123456789';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface PagesStack {
  url: string;
  gateway: Gateway;
  mes: MesSimHandle;
  crm: CrmSimHandle;
  /** An operator token (sub, role operator, 1 h). */
  operatorToken(subject: string): Promise<string>;
  /** Uploads a model and places an order for the seller of `key`; returns the order id. */
  placeOrder(key: string): Promise<string>;
  close(): Promise<void>;
}

export async function startPagesStack(options: { mutateConfig?: (doc: Doc) => void } = {}): Promise<PagesStack> {
  await clearRedis();
  const uiDir = mkdtempSync(join(tmpdir(), 'facet-ui-'));
  await buildUi(uiDir);
  const bus: Bus = createBus({});
  const dataset = generateDataset(11, 4, 400);
  const fast = { baseMs: 1, jitterMs: 1 };
  const mes = await startMesSim({ dataset, bus, logger: false, latency: fast, dashboardLatency: { baseMs: 5, perOrderMs: 0 }, timeScale: 3600, capacity: 1000 });
  const crm = await startCrmSim({ dataset, logger: false, latency: fast });
  const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  const adapters: Adapters = await startAdapters({
    bus,
    store: new RedisKeyValueStore(redis),
    crmUrl: crm.url,
    mesUrl: mes.url,
    saga: { retryDelaysMs: [100] },
    // Loopback receivers (the test's), retries after 0.3 s.
    webhooks: { store: new RedisWebhookStore(redis), policy: { requireHttps: false, allowLoopback: true }, retryDelaysMs: [300], maxAttempts: 3 },
  });
  const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Doc;
  doc.shedding = { ...doc.shedding, eventLoopDelayMs: { 'free-read': 5000, 'paid-read': 5000, write: 5000 } };
  options.mutateConfig?.(doc);
  const validated = parseConfig(stringify(doc), 'gateway.config.yml', POLICIES, { CRM_URL: crm.url, MES_URL: mes.url, JWT_SECRET, PORT: '0', HOST: '127.0.0.1' });
  const gateway = await buildGateway(validated, { logger: false, redisUrl: REDIS_URL, bus, uiDir, webhookPolicy: { requireHttps: false, allowLoopback: true } });
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 100 && gateway.services.redis && gateway.services.redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 50));
  const address = gateway.app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  let sequence = 0;
  return {
    url,
    gateway,
    mes,
    crm,
    operatorToken: (subject) => demoOperatorToken(JWT_SECRET, '1h', subject),
    async placeOrder(key) {
      const headers = { 'x-api-key': key };
      const upload = await fetch(`${url}/v1/models`, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream', 'x-filename': 'ring.stl' }, body: new Uint8Array(binaryStl(60, ++sequence)) });
      if (upload.status !== 201) throw new Error(`upload: ${upload.status} ${await upload.text()}`);
      const model = (await upload.json()) as { id: string };
      const order = await fetch(`${url}/v1/orders`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': `ui-test-${Date.now()}-${sequence}` },
        body: JSON.stringify({
          model_id: model.id,
          parameters: { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' },
          customer: { name: 'Ana Martin', email: 'ana.martin@example.com' },
          shipping: { name: 'Ana Martin', line1: '12 Rue Test', city: 'Paris', postal_code: '75001', country: 'FR' },
        }),
      });
      if (order.status !== 202) throw new Error(`order: ${order.status} ${await order.text()}`);
      return ((await order.json()) as { id: string }).id;
    },
    async close() {
      await gateway.close();
      await adapters.close();
      await bus.close();
      await Promise.all([crm.close(), mes.close()]);
      redis.disconnect();
      rmSync(uiDir, { recursive: true, force: true });
    },
  };
}
