// quota: counts each seller request against its plan's rate, burst and
// daily windows (cost-weighted), answers 429 with Retry-After past a limit,
// and puts the IETF RateLimit headers on every admitted answer.

import type { onRequestHookHandler } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { stepPicker, type PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import { limitsFor, type EffectiveLimits } from '../../platform/pipeline/plan-limits.ts';
import { QuotaService, rateLimitHeader, rateLimitPolicyHeader } from './quota-service.ts';
import { quotaSettings, type QuotaSettings } from './settings.ts';
import { getUsage } from './usage.ts';

export interface QuotaAction {
  /** Units this operation costs (a quote costs more than a read). */
  cost: number;
}

export const quotaPolicy: PolicyDefinition<QuotaAction, QuotaSettings, QuotaService> = {
  name: 'quota',
  terminal: false,
  settings: quotaSettings,
  // In-process counters (no Redis, or the insurance share) outlive a config reload.
  createService: (host, settings) => new QuotaService(settings, host.redis, host.retain('quota.limiters', () => ({ value: new Map() }))),
  operations: { getUsage: ({ service, host }) => getUsage(service, host.config) },
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { cost: { type: 'integer', minimum: 1, maximum: 1000, default: 1 } },
  },
  build(steps, _route, { service: quota, metrics, config }) {
    const pickStep = stepPicker(steps);
    // Effective limits per seller, computed once per config.
    const limitsCache = new Map<string, { limits: EffectiveLimits; policy: string }>();
    const hook: onRequestHookHandler = async (request, reply) => {
      const consumer = request[kConsumer];
      if (!consumer) return; // quota applies to sellers; key-auth runs first
      const step = pickStep(request);
      const cost = step?.action.cost ?? 1;
      let entry = limitsCache.get(consumer.id);
      if (!entry) {
        const limits = limitsFor(config, consumer.id, consumer.plan);
        entry = { limits, policy: rateLimitPolicyHeader(limits) };
        limitsCache.set(consumer.id, entry);
      }
      const decision = await quota.consume(consumer.id, entry.limits, cost);
      const headers = { 'ratelimit-policy': entry.policy, ratelimit: rateLimitHeader(decision.windows) };
      metrics.quotaDecisions.inc({ plan: consumer.plan, outcome: decision.allowed ? 'admitted' : 'rejected', window: decision.exceeded ?? 'none', store: decision.store });
      if (!decision.allowed) {
        throw new FacetError('FACET_ERR_QUOTA_EXCEEDED', {
          detail: decision.exceeded === 'daily' ? `The daily quota of plan ${consumer.plan} is used up` : `Plan ${consumer.plan} allows ${entry.limits.rate.perSecond} units per second (burst ${entry.limits.rate.burst})`,
          headers: { ...headers, 'retry-after': String(decision.retryAfterSec) },
        });
      }
      reply.headers(headers);
    };
    return { onRequest: [hook] };
  },
};
