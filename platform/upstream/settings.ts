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

export interface ServiceEndpointConfig {
  url: string;
  /** Per attempt; the request is really aborted (AbortSignal to undici). */
  timeoutMs: number;
  resilience: ResilienceConfig;
  connections: number;
  healthPath: string;
  /** A required upstream being down makes /readyz answer 503. */
  readiness: 'required' | 'optional';
}
