// One Prometheus registry per gateway. Every decision a policy makes is
// counted here, by plan and reason: no seller id or order id as a label.
// Latency histograms keep trace exemplars (exposition.ts serves them to
// OpenMetrics scrapers).

import { Counter, Gauge, Registry, collectDefaultMetrics, type Histogram } from 'prom-client';
import { exemplarHistogram } from './exposition.ts';

/** Whole requests as a client sees them: 2.5 ms (a cache hit) to 30 s (a slow upload or MES call). */
export const REQUEST_BUCKETS = [0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** The gateway's own share of a request: 0.1 ms to 1 s. */
export const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface GatewayMetrics {
  registry: Registry;
  quotaDecisions: Counter<'plan' | 'outcome' | 'window' | 'store'>;
  shedDecisions: Counter<'plan' | 'class' | 'outcome' | 'reason'>;
  authFailures: Counter<'reason'>;
  /** Config reloads (SIGHUP, a changed file) by outcome: success, or failure (refused; the old config serves). */
  configReloads: Counter<'outcome'>;
  upstreamRequests: Counter<'upstream' | 'outcome'>;
  upstreamRetries: Counter<'upstream'>;
  upstreamBreakerState: Gauge<'upstream'>;
  upstreamBreakerTransitions: Counter<'upstream' | 'to'>;
  upstreamBulkheadRejections: Counter<'upstream'>;
  /** RED: every answer, by route template, method, status and plan (operator|none when not a seller). */
  httpRequestDuration: Histogram<'route' | 'method' | 'status' | 'plan'>;
  /** Time in the gateway itself: the request's duration minus its wait for upstreams (request-timing.ts). */
  gatewayOverhead: Histogram<'route'>;
  /** One upstream call (after retries) from start to answer, by outcome as in facet_upstream_requests_total. */
  upstreamRequestDuration: Histogram<'upstream' | 'outcome'>;
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
      help: 'Rejected authentications by reason (missing_key|invalid_key|revoked_key|expired_key|throttled|missing_token|invalid_token|forbidden).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'facet_config_reloads_total',
      help: 'Config reloads (SIGHUP or a changed file) by outcome (success|failure: refused, the previous config keeps serving).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    upstreamRequests: new Counter({
      name: 'facet_upstream_requests_total',
      help: 'Calls to an upstream (after retries) by outcome (ok|client_error|server_error|contract_violation|timeout|unavailable|circuit_open|saturated|cancelled).',
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
    httpRequestDuration: exemplarHistogram(registry, {
      name: 'facet_http_request_duration_seconds',
      help: 'Requests answered by the gateway, by route template (unmatched for no route), method, status code and plan (operator for JWT operators, none when unauthenticated).',
      labelNames: ['route', 'method', 'status', 'plan'],
      buckets: REQUEST_BUCKETS,
    }),
    gatewayOverhead: exemplarHistogram(registry, {
      name: 'facet_gateway_overhead_seconds',
      help: 'Time a request spent in the gateway itself: its duration minus the time it waited on upstream calls (MES, CRM), by route template.',
      labelNames: ['route'],
      buckets: OVERHEAD_BUCKETS,
    }),
    upstreamRequestDuration: exemplarHistogram(registry, {
      name: 'facet_upstream_request_duration_seconds',
      help: 'Calls to an upstream from start to answer (retries and backoff included), by upstream and outcome (as facet_upstream_requests_total).',
      labelNames: ['upstream', 'outcome'],
      buckets: REQUEST_BUCKETS,
    }),
  };
}
