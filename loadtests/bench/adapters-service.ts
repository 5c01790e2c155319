// The CRM/MES adapters and the order saga as a child of the harness
// (`node adapters/main.ts`), for the scenarios whose path runs over the bus
// (order-writes, webhook-delivery).

import { freePort } from './ports.ts';
import type { ProcessGroup } from './processes.ts';
import { HOST, startService } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';
import type { GatewayUpstreams } from './upstreams.ts';

/**
 * The CRM/MES adapters and the order saga as their own process (`node
 * adapters/main.ts`, as `npm run adapters` without tracing), ready when its
 * ops server's /readyz says the bus (and Redis, with REDIS_URL) are up.
 * `env` must give AMQP_URL and AMQP_PREFIX.
 */
export async function startAdapters(group: ProcessGroup, upstreams: GatewayUpstreams, env: Record<string, string>): Promise<Service> {
  // A port the harness picks, like every other child's, so it can poll /readyz.
  const port = await freePort();
  return startService(group, 'adapters', 'adapters/main.ts', port, {
    NODE_ENV: 'production',
    ADAPTERS_HTTP_PORT: String(port),
    ADAPTERS_HTTP_HOST: HOST,
    CRM_URL: upstreams.crm.url,
    MES_URL: upstreams.mes.url,
    LOG_LEVEL: 'warn',
    // The bench's Redis is the machine's throw-away one (no AOF): production would refuse it.
    FACET_ALLOW_VOLATILE_REDIS: 'true',
    ...env,
  }, undefined, undefined, '/readyz');
}
