// The scenario registry. Add a scenario by writing a module that exports a
// `Scenario` and listing it here; the runner, CLI and report need no change.

import { cacheVsNginx } from './cache-vs-nginx.ts';
import { clusterFailover } from './cluster-failover.ts';
import { dashboardCache } from './dashboard-cache.ts';
import { mesDown } from './mes-down.ts';
import { noisyNeighbour } from './noisy-neighbour.ts';
import { overloadShedding } from './overload-shedding.ts';
import { proxyGetOrder } from './proxy-get-order.ts';
import { orderWrites } from './order-writes.ts';
import { quotaOverhead } from './quota-overhead.ts';
import { sseDelivery } from './sse-delivery.ts';
import { tracingOverhead } from './tracing-overhead.ts';
import { webhookDelivery } from './webhook-delivery.ts';
import type { Scenario } from './types.ts';

export const SCENARIOS: readonly Scenario[] = [proxyGetOrder, quotaOverhead, overloadShedding, noisyNeighbour, dashboardCache, cacheVsNginx, mesDown, tracingOverhead, orderWrites, sseDelivery, webhookDelivery, clusterFailover];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((scenario) => scenario.name === name);
}
