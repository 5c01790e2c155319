// GET /v1/usage (operation getUsage): the seller's current usage and what is
// left per window. Served by the `respond` policy; it reads this policy's
// counters, so it comes with this folder.

import type { RouteHandlerMethod } from 'fastify';
import type { components } from '../../openapi/generated/seller-api.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import type { GatewayConfig } from '../../platform/pipeline/config.ts';
import { limitsFor } from '../../platform/pipeline/plan-limits.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import type { QuotaService } from './quota-service.ts';

type Usage = components['schemas']['Usage'];

export function getUsage(quota: QuotaService, config: GatewayConfig): RouteHandlerMethod {
  return async function getUsageHandler(request): Promise<Usage> {
    const consumer = request[kConsumer];
    if (!consumer) throw new FacetError('FACET_ERR_AUTH_MISSING_KEY');
    const limits = limitsFor(config, consumer.id, consumer.plan);
    const windows = await quota.usage(consumer.id, limits);
    return {
      seller_id: consumer.id,
      plan: consumer.plan,
      windows: windows
        .filter((w) => w.limit > 0)
        .map((w) => ({ name: w.name, limit: w.limit, window_seconds: w.windowSec, used: w.limit - w.remaining, remaining: w.remaining, reset_seconds: w.resetSec })),
      concurrent_price_jobs: { limit: limits.concurrentPriceJobs },
      upload_max_bytes: limits.uploadMaxBytes,
    };
  };
}
