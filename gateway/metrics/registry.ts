// One Prometheus registry per gateway. Every decision a policy makes is
// counted here, by plan and reason: no seller id or order id as a label.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  quotaDecisions: Counter<'plan' | 'outcome' | 'window' | 'store'>;
  shedDecisions: Counter<'plan' | 'class' | 'outcome' | 'reason'>;
  authFailures: Counter<'reason'>;
  upstreamRequests: Counter<'upstream' | 'outcome'>;
  upstreamRetries: Counter<'upstream'>;
  upstreamBreakerState: Gauge<'upstream'>;
  upstreamBreakerTransitions: Counter<'upstream' | 'to'>;
  upstreamBulkheadRejections: Counter<'upstream'>;
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
    upstreamRequests: new Counter({
      name: 'facet_upstream_requests_total',
      help: 'Calls to an upstream (after retries) by outcome (ok|client_error|server_error|timeout|unavailable|circuit_open|saturated|cancelled).',
      labelNames: ['upstream', 'outcome'],
      registers: [registry],
    }),
    upstreamRetries: new Counter({
      name: 'facet_upstream_retries_total',
      help: 'Retried attempts of idempotent reads, by upstream.',
      labelNames: ['upstream'],
      registers: [registry],
    }),
    upstreamBreakerState: new Gauge({
      name: 'facet_upstream_breaker_state',
      help: 'Circuit breaker state by upstream: 0 closed, 1 half-open, 2 open (or held open).',
      labelNames: ['upstream'],
      registers: [registry],
    }),
    upstreamBreakerTransitions: new Counter({
      name: 'facet_upstream_breaker_transitions_total',
      help: 'Circuit breaker state changes by upstream and new state (closed|half-open|open|isolated).',
      labelNames: ['upstream', 'to'],
      registers: [registry],
    }),
    upstreamBulkheadRejections: new Counter({
      name: 'facet_upstream_bulkhead_rejections_total',
      help: 'Calls refused because the upstream bulkhead (concurrency cap and queue) was full.',
      labelNames: ['upstream'],
      registers: [registry],
    }),
  };
}
