// A service endpoint's settings (gateway.config.yml `serviceEndpoints`), as the
// upstream client takes them.

export interface ResilienceConfig {
  /** Retries of idempotent reads only (GET/HEAD); writes are never retried. */
  retry: {
    /** Retries after the first attempt (cockatiel's count); 0 disables retrying. */
    maxAttempts: number;
    initialDelayMs: number;
    maxDelayMs: number;
  };
  /** Sampling breaker: opens when the failure rate over the window passes the threshold. */
  breaker: { failureRateThreshold: number; samplingDurationMs: number; minimumRps: number; halfOpenAfterMs: number };
  /** Concurrency cap with a small queue; overflow is answered 503 at once. */
  bulkhead: { limit: number; queue: number };
}

/**
 * Uploads (a client's body streamed through to the upstream) run under their
 * own policy: a client on a slow uplink takes as long as its file needs, so
 * there is no per-attempt timeout, only an idle one.
 */
export interface UploadSettings {
  /** No byte from the client for this long → 408; the upstream must answer within `timeoutMs` once the body is complete. */
  idleTimeoutMs: number;
  /** Upper bound on one upload, whatever its pace (the plan's size cap bounds its bytes). */
  maxDurationMs: number;
  /** Uploads' own concurrency cap: they cannot starve the endpoint's other calls, nor those them. */
  bulkhead: { limit: number; queue: number };
}

export const DEFAULT_UPLOAD_SETTINGS: UploadSettings = { idleTimeoutMs: 15_000, maxDurationMs: 1_800_000, bulkhead: { limit: 16, queue: 0 } };

export interface ServiceEndpointConfig {
  url: string;
  /** Per attempt; the request is really aborted (AbortSignal to undici). */
  timeoutMs: number;
  resilience: ResilienceConfig;
  connections: number;
  healthPath: string;
  /** A required upstream being down makes /readyz answer 503. */
  readiness: 'required' | 'optional';
  /** Default: DEFAULT_UPLOAD_SETTINGS. */
  uploads?: UploadSettings;
}
