// Custom metrics, one sample per answer, carrying the request's tags (op,
// kind, class, plan, seller, plus the scenario's own tags such as phase), so
// that thresholds can be set per seller, per phase or per operation:
//   facet_429{seller:free}  facet_ok_duration{phase:overload}  facet_stale{op:dashboard}
//
// Rates answer "what share of answers were X"; a Rate's summary also gives
// the counts (passes = answers that were X). Created in the init context,
// as k6 requires of any metric a threshold names.

import { Counter, Rate, Trend } from 'k6/metrics';

/** 2xx/3xx: the request was served (goodput). */
export const okRate = new Rate('facet_ok');
/** Any 429 (quota, price jobs, auth throttle). */
export const rate429 = new Rate('facet_429');
/** 429 FACET_ERR_QUOTA_EXCEEDED only: the plan's rate, burst or daily quota. */
export const quota429 = new Rate('facet_quota_429');
/** Any 503 (shed, upstream unavailable, breaker open, bulkhead full, bus, state store, shutting down). */
export const rate503 = new Rate('facet_503');
/** 503 FACET_ERR_OVERLOADED: load shedding. */
export const shedRate = new Rate('facet_shed');
/** 5xx other than 503 (500, 502, 504...): something broke rather than protected itself. */
export const rate5xx = new Rate('facet_5xx');
/** No HTTP answer at all: timeout, refused or reset connection. */
export const transportErrors = new Rate('facet_transport_error');
/** A 4xx other than 429 that the scenario did not expect (a broken script or contract drift). */
export const unexpected4xx = new Rate('facet_unexpected_4xx');
/** Cached routes' 2xx answers: Cache-Status says detail=stale-while-revalidate or stale-if-error. */
export const staleRate = new Rate('facet_stale');
/** Duration of 2xx/3xx answers: the latency of admitted requests. */
export const okDuration = new Trend('facet_ok_duration', true);
/** Duration of 429 and 503 answers: refusals must be cheap. */
export const rejectDuration = new Trend('facet_reject_duration', true);
/** 2xx/3xx answers counted (its count over a phase is the admitted work). */
export const goodput = new Counter('facet_goodput');
/** Problem answers by code (tag `code`), e.g. facet_problems{code:FACET_ERR_OVERLOADED}. */
export const problems = new Counter('facet_problems');

/** The problem codes the summary breaks answers down by (docs/errors.md). */
export const PROBLEM_CODES: readonly string[] = [
  'FACET_ERR_QUOTA_EXCEEDED',
  'FACET_ERR_PRICE_JOBS_LIMIT',
  'FACET_ERR_AUTH_THROTTLED',
  'FACET_ERR_OVERLOADED',
  'FACET_ERR_UPSTREAM_UNAVAILABLE',
  'FACET_ERR_UPSTREAM_CIRCUIT_OPEN',
  'FACET_ERR_UPSTREAM_SATURATED',
  'FACET_ERR_UPSTREAM_TIMEOUT',
  'FACET_ERR_UPSTREAM_BAD_RESPONSE',
  'FACET_ERR_BUS_UNAVAILABLE',
  'FACET_ERR_STATE_UNAVAILABLE',
  'FACET_ERR_SHUTTING_DOWN',
  'FACET_ERR_INTERNAL',
  'FACET_ERR_VALIDATION',
  'FACET_ERR_NOT_FOUND',
  'FACET_ERR_AUTH_INVALID_KEY',
  'FACET_ERR_IDEMPOTENCY_IN_FLIGHT',
  'FACET_ERR_ORDER_NOT_CANCELLABLE',
];
