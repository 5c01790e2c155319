// One Prometheus registry per gateway. Every decision a policy makes is
// counted here, by plan and reason: no seller id or order id as a label.

import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  quotaDecisions: Counter<'plan' | 'outcome' | 'window' | 'store'>;
  shedDecisions: Counter<'plan' | 'class' | 'outcome' | 'reason'>;
  authFailures: Counter<'reason'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'facet_' });
  return {
    registry,
    quotaDecisions: new Counter({
      name: 'facet_quota_decisions_total',
      help: 'Quota decisions by plan, outcome (admitted|rejected), the window that decided and the store that answered (redis|insurance|memory).',
      labelNames: ['plan', 'outcome', 'window', 'store'],
      registers: [registry],
    }),
    shedDecisions: new Counter({
      name: 'facet_shed_decisions_total',
      help: 'Load-shedding decisions by plan, priority class, outcome (admitted|shed) and reason (adaptive_limit|event_loop|none).',
      labelNames: ['plan', 'class', 'outcome', 'reason'],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'facet_auth_failures_total',
      help: 'Rejected authentications by reason (missing_key|invalid_key|revoked_key|throttled|missing_token|invalid_token|forbidden).',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
