// Starts the real thing in-process for integration tests: both simulators
// as HTTP servers on ephemeral loopback ports and a gateway in front.

import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import type { Bus } from '../../platform/bus/types.ts';
import type { UrlPolicy } from '../../platform/webhooks/url-guard.ts';
import { buildGateway, type Gateway, type GatewayOptions } from '../../gateway/app.ts';
import { parseConfig } from '../../gateway/config/load.ts';
import type { ValidatedConfig } from '../../gateway/config/validate.ts';
import { demoOperatorToken } from '../../entries/demo.ts';
import { POLICIES } from '../../policies/index.ts';
import { startCrmSim, type CrmSimHandle } from '../../sim/crm/start.ts';
import { startMesSim, type MesSimHandle } from '../../sim/mes/start.ts';

export const TEST_JWT_SECRET = 'test-secret-for-integration-tests-0123456789';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Stack {
  gateway: Gateway;
  crm: CrmSimHandle;
  mes: MesSimHandle;
  url: string;
  operatorToken: string;
  /** The validated config the gateway runs, for starting more replicas of it. */
  validated: ValidatedConfig;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Edit the parsed gateway.config.yml before it is validated. */
  mutateConfig?: (doc: Doc) => void;
  orderCount?: number;
  mesDashboardLatency?: { baseMs: number; perOrderMs: number };
  /** Use this Redis for shared state (quotas); default: in-process stores. */
  redisUrl?: string;
  /** The gateway's bus (e.g. RabbitMQ with a test prefix); default: in process. */
  bus?: Bus;
  /** SSRF rules for webhook URLs (default: from the environment). */
  webhookPolicy?: UrlPolicy;
  /** Told of every route the gateway adds. */
  onRoute?: GatewayOptions['onRoute'];
  /** The gateway's logger (default: silent). */
  logger?: GatewayOptions['logger'];
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const fast = { baseMs: 1, jitterMs: 1 };
  const [crm, mes] = await Promise.all([
    startCrmSim({ latency: fast, logger: false, orderCount: options.orderCount }),
    startMesSim({ latency: fast, logger: false, orderCount: options.orderCount, timeScale: 600, dashboardLatency: options.mesDashboardLatency ?? { baseMs: 5, perOrderMs: 0 } }),
  ]);
  const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Doc;
  // The event-loop guard reads this whole process, load generator included,
  // on a machine other work shares: tests that are not about it keep it out
  // of the way (test/unit/load-shed*.test.ts cover it).
  doc.shedding = { ...doc.shedding, eventLoopDelayMs: { 'free-read': 5000, 'paid-read': 5000, write: 5000 } };
  options.mutateConfig?.(doc);
  const validated = parseConfig(stringify(doc), 'gateway.config.yml', POLICIES, {
    CRM_URL: crm.url,
    MES_URL: mes.url,
    JWT_SECRET: TEST_JWT_SECRET,
    PORT: '0',
    HOST: '127.0.0.1',
  });
  const gateway = await buildGateway(validated, { logger: options.logger ?? false, redisUrl: options.redisUrl, onRoute: options.onRoute, ...(options.bus && { bus: options.bus }), ...(options.webhookPolicy && { webhookPolicy: options.webhookPolicy }) });
  await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  // Tests start from a connected Redis (start-up without one is tested on its own).
  for (let i = 0; i < 100 && gateway.services.redis && gateway.services.redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 50));
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    gateway,
    crm,
    mes,
    url: `http://127.0.0.1:${port}`,
    operatorToken: await demoOperatorToken(TEST_JWT_SECRET),
    validated,
    async close() {
      await gateway.close();
      await Promise.all([crm.close(), mes.close()]);
    },
  };
}

export function assertProblem(response: { status: number; headers: Record<string, string>; body: unknown }, status: number, code: string): Doc {
  const body = response.body as Doc;
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${JSON.stringify(body)}`);
  if (!String(response.headers['content-type']).startsWith('application/problem+json')) throw new Error(`not problem+json: ${response.headers['content-type']}`);
  if (body.code !== code) throw new Error(`expected code ${code}, got ${JSON.stringify(body)}`);
  if (body.status !== status || typeof body.title !== 'string' || typeof body.type !== 'string' || typeof body.request_id !== 'string') {
    throw new Error(`incomplete problem: ${JSON.stringify(body)}`);
  }
  return body;
}
