// The gateway as a child of the harness, as production runs it
// (`node entries/gateway.ts`, NODE_ENV=production) on a free loopback port,
// with a scenario's config edits (gateway-config.ts), environment (e.g.
// Redis, AMQP) and Node options (e.g. tracing).

import { join } from 'node:path';
import { writeGatewayConfig } from './gateway-config.ts';
import type { ConfigEdit } from './gateway-config.ts';
import { BENCH_JWT_SECRET } from './operator-token.ts';
import { freePort } from './ports.ts';
import type { ProcessGroup } from './processes.ts';
import { REPO_ROOT } from './repo-root.ts';
import { HOST, startService } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';
import type { GatewayUpstreams } from './upstreams.ts';

export interface GatewayOptions {
  /** Edits to a copy of gateway.config.yml (see gateway-config.ts); none = the file as it is. */
  config?: readonly ConfigEdit[];
  env?: Record<string, string>;
  /** Node options for the gateway child only, e.g. TRACING_NODE_ARGS. */
  nodeArgs?: string[];
  /** Child name (CPU column, error messages); default "gateway". */
  name?: string;
}

/** What `npm start` puts before the entry script to trace a process (platform/telemetry/register.ts). */
export const TRACING_NODE_ARGS: readonly string[] = ['--import', './platform/telemetry/register.ts'];

/** The gateway as production runs it: NODE_ENV=production, no Redis/AMQP unless `env` says so. */
export async function startGateway(group: ProcessGroup, upstreams: GatewayUpstreams, options: GatewayOptions = {}): Promise<Service> {
  const port = await freePort();
  const configFile = options.config?.length ? writeGatewayConfig(group, REPO_ROOT, options.config) : join(REPO_ROOT, 'gateway.config.yml');
  return startService(group, options.name ?? 'gateway', 'entries/gateway.ts', port, {
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
    // The bench's Redis is the machine's throw-away one (no AOF): production would refuse it.
    FACET_ALLOW_VOLATILE_REDIS: 'true',
    ...options.env,
  }, undefined, options.nodeArgs ? [...options.nodeArgs] : undefined);
}
