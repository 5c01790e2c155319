// The one table every problem+json answer comes from (RFC 9457).
// A code is stable: clients and runbooks key on it. docs/errors.md lists them
// and test/unit/errors.test.ts checks that every code there is documented.

export interface ProblemKind {
  readonly status: number;
  readonly title: string;
  /** Slug of the problem type URI, `/problems/<slug>`. */
  readonly slug: string;
}

export const PROBLEMS = {
  FACET_ERR_VALIDATION: { status: 400, title: 'Request validation failed', slug: 'validation' },
  FACET_ERR_BAD_JSON: { status: 400, title: 'Malformed JSON body', slug: 'bad-json' },
  FACET_ERR_BAD_REQUEST: { status: 400, title: 'Bad request', slug: 'bad-request' },
  FACET_ERR_IDEMPOTENCY_KEY_MISSING: { status: 400, title: 'Idempotency-Key header required', slug: 'idempotency-key-missing' },
  FACET_ERR_AUTH_MISSING_KEY: { status: 401, title: 'API key required', slug: 'auth-missing-key' },
  FACET_ERR_AUTH_INVALID_KEY: { status: 401, title: 'API key not recognised', slug: 'auth-invalid-key' },
  FACET_ERR_AUTH_MISSING_TOKEN: { status: 401, title: 'Bearer token required', slug: 'auth-missing-token' },
  FACET_ERR_AUTH_INVALID_TOKEN: { status: 401, title: 'Bearer token invalid', slug: 'auth-invalid-token' },
  FACET_ERR_AUTH_FORBIDDEN: { status: 403, title: 'Not allowed for this role', slug: 'auth-forbidden' },
  FACET_ERR_NOT_FOUND: { status: 404, title: 'Resource not found', slug: 'not-found' },
  FACET_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No such route', slug: 'route-not-found' },
  FACET_ERR_UPLOAD_IDLE: { status: 408, title: 'Upload stalled', slug: 'upload-idle' },
  FACET_ERR_IDEMPOTENCY_IN_FLIGHT: { status: 409, title: 'A request with this Idempotency-Key is still being processed', slug: 'idempotency-in-flight' },
  FACET_ERR_ORDER_NOT_CANCELLABLE: { status: 409, title: 'Order can no longer be cancelled', slug: 'order-not-cancellable' },
  FACET_ERR_ORDER_TAKEN: { status: 409, title: 'Order already taken by another operator', slug: 'order-taken' },
  FACET_ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body too large', slug: 'body-too-large' },
  FACET_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', slug: 'unsupported-media-type' },
  FACET_ERR_UNSUPPORTED_MODEL: { status: 415, title: 'Unsupported 3D model format', slug: 'unsupported-model' },
  FACET_ERR_WEBHOOK_URL_REFUSED: { status: 422, title: 'Webhook URL refused', slug: 'webhook-url-refused' },
  FACET_ERR_WEBHOOK_LIMIT: { status: 409, title: 'Too many webhooks', slug: 'webhook-limit' },
  FACET_ERR_KEY_LIMIT: { status: 409, title: 'Too many API keys', slug: 'key-limit' },
  FACET_ERR_IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with a different request', slug: 'idempotency-key-reused' },
  FACET_ERR_QUOTA_EXCEEDED: { status: 429, title: 'Quota exceeded', slug: 'quota-exceeded' },
  FACET_ERR_PRICE_JOBS_LIMIT: { status: 429, title: 'Too many price jobs in progress', slug: 'price-jobs-limit' },
  FACET_ERR_REPLAY_LIMIT: { status: 429, title: 'Too many replays', slug: 'replay-limit' },
  FACET_ERR_AUTH_THROTTLED: { status: 429, title: 'Too many failed authentications', slug: 'auth-throttled' },
  FACET_ERR_STREAM_LIMIT: { status: 429, title: 'Too many open streams', slug: 'stream-limit' },
  // nginx's 499: the client went away before the answer; logged, never sent (nobody is listening).
  FACET_ERR_CLIENT_CLOSED: { status: 499, title: 'Client closed the request', slug: 'client-closed' },
  FACET_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large', slug: 'headers-too-large' },
  FACET_ERR_INTERNAL: { status: 500, title: 'Internal error', slug: 'internal' },
  FACET_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, title: 'Upstream answered with an error', slug: 'upstream-bad-response' },
  FACET_ERR_UPSTREAM_UNAVAILABLE: { status: 503, title: 'Upstream unavailable', slug: 'upstream-unavailable' },
  FACET_ERR_UPSTREAM_CIRCUIT_OPEN: { status: 503, title: 'Upstream failing, calls suspended', slug: 'upstream-circuit-open' },
  FACET_ERR_UPSTREAM_SATURATED: { status: 503, title: 'Too many calls to the upstream in progress', slug: 'upstream-saturated' },
  FACET_ERR_OVERLOADED: { status: 503, title: 'Gateway overloaded, request shed', slug: 'overloaded' },
  FACET_ERR_STREAMS_FULL: { status: 503, title: 'No room for another stream on this replica', slug: 'streams-full' },
  FACET_ERR_BUS_UNAVAILABLE: { status: 503, title: 'Message broker unavailable', slug: 'bus-unavailable' },
  FACET_ERR_OUTCOME_UNKNOWN: { status: 503, title: 'Outcome unknown: retry with the same Idempotency-Key', slug: 'outcome-unknown' },
  FACET_ERR_STATE_UNAVAILABLE: { status: 503, title: 'State store unavailable', slug: 'state-unavailable' },
  FACET_ERR_SHUTTING_DOWN: { status: 503, title: 'Gateway is shutting down', slug: 'shutting-down' },
  FACET_ERR_UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timed out', slug: 'upstream-timeout' },
} as const satisfies Record<string, ProblemKind>;

export type ProblemCode = keyof typeof PROBLEMS;

/** The upstream was never reached: unavailable, its breaker open, its bulkhead full. */
export const UPSTREAM_NOT_REACHED: ReadonlySet<ProblemCode> = new Set(['FACET_ERR_UPSTREAM_UNAVAILABLE', 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN', 'FACET_ERR_UPSTREAM_SATURATED']);

/** The upstream was reached and failed: too slow, or an answer outside its contract. */
export const UPSTREAM_FAILED: ReadonlySet<ProblemCode> = new Set(['FACET_ERR_UPSTREAM_TIMEOUT', 'FACET_ERR_UPSTREAM_BAD_RESPONSE']);

/** Every way an upstream call can fail (what a cache may answer with a stale entry instead). */
export const UPSTREAM_FAILURES: ReadonlySet<ProblemCode> = new Set([...UPSTREAM_NOT_REACHED, ...UPSTREAM_FAILED]);

export const PROBLEM_TYPE_BASE = '/problems/';

export function problemType(code: ProblemCode): string {
  return PROBLEM_TYPE_BASE + PROBLEMS[code].slug;
}
