// The system under test, one child process per part: the CRM and MES
// simulators and the gateway, each on free loopback ports. Scenarios call
// these with their own environment (e.g. a gateway with tracing on).

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeGatewayConfig } from './gateway-config.ts';
import type { ConfigEdit } from './gateway-config.ts';
import { freePort, waitReady } from './processes.ts';
import type { ChildHandle, ProcessGroup } from './processes.ts';

const ROOT_URL = new URL('../../', import.meta.url);
export const REPO_ROOT = fileURLToPath(ROOT_URL);
const HOST = '127.0.0.1';
/** Any 32+ character secret: the benchmark never signs operator tokens with it. */
const BENCH_JWT_SECRET = 'facet-bench-jwt-secret-not-for-production-use';

export interface Service {
  readonly name: string;
  /** Base URL of the API port, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  readonly process: ChildHandle;
}

async function startService(group: ProcessGroup, name: string, script: string, port: number, env: Record<string, string>): Promise<Service> {
  const url = `http://${HOST}:${port}`;
  const handle = group.spawn({ name, script: fileURLToPath(new URL(script, ROOT_URL)), env, cwd: REPO_ROOT });
  await waitReady(handle, `${url}/healthz`);
  return { name, url, process: handle };
}

/** The CRM simulator with no added latency (so the gateway's overhead is what is measured). */
export async function startCrm(group: ProcessGroup, env: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  return startService(group, 'crm-sim', 'sim/crm/main.ts', port, {
    CRM_PORT: String(port),
    CRM_ADMIN_PORT: String(await freePort()),
    SIM_HOST: HOST,
    CRM_LATENCY_BASE_MS: '0',
    CRM_LATENCY_JITTER_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

export async function startMes(group: ProcessGroup, env: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  return startService(group, 'mes-sim', 'sim/mes/main.ts', port, {
    MES_PORT: String(port),
    MES_ADMIN_PORT: String(await freePort()),
    SIM_HOST: HOST,
    MES_LATENCY_BASE_MS: '0',
    MES_LATENCY_JITTER_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

export interface GatewayUpstreams {
  crm: Service;
  mes: Service;
}

export interface GatewayOptions {
  /** Edits to a copy of gateway.config.yml (see gateway-config.ts); none = the file as it is. */
  config?: readonly ConfigEdit[];
  env?: Record<string, string>;
}

/** The gateway as production runs it: NODE_ENV=production, no Redis/AMQP unless `env` says so. */
export async function startGateway(group: ProcessGroup, upstreams: GatewayUpstreams, options: GatewayOptions = {}): Promise<Service> {
  const port = await freePort();
  const configFile = options.config?.length ? writeGatewayConfig(group, REPO_ROOT, options.config) : join(REPO_ROOT, 'gateway.config.yml');
  return startService(group, 'gateway', 'gateway/main.ts', port, {
    GATEWAY_CONFIG: configFile,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST,
    CRM_URL: upstreams.crm.url,
    MES_URL: upstreams.mes.url,
    JWT_SECRET: BENCH_JWT_SECRET,
    REDIS_URL: '',
    AMQP_URL: '',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
}
