// Service endpoint settings for the adapters' upstream clients (the gateway's
// UpstreamClient: undici pool + cockatiel timeout, breaker and bulkhead).
// The adapters only write, and writes are never retried by the client: a
// transient failure goes back to the bus, which retries the whole (idempotent)
// step later with its delays. Defaults follow gateway/config/schema.ts.

import type { ResilienceConfig, ServiceEndpointConfig } from '../../platform/upstream/settings.ts';

export interface EndpointOverrides {
  timeoutMs?: number;
  connections?: number;
  breaker?: Partial<ResilienceConfig['breaker']>;
  bulkhead?: Partial<ResilienceConfig['bulkhead']>;
}

export function endpointConfig(url: string, overrides: EndpointOverrides = {}): ServiceEndpointConfig {
  return {
    url,
    timeoutMs: overrides.timeoutMs ?? 5_000,
    connections: overrides.connections ?? 16,
    healthPath: '/healthz',
    readiness: 'optional',
    resilience: {
      retry: { maxAttempts: 0, initialDelayMs: 50, maxDelayMs: 1_000 },
      breaker: { failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps: 2, halfOpenAfterMs: 5_000, ...overrides.breaker },
      bulkhead: { limit: 64, queue: 256, ...overrides.bulkhead },
    },
  };
}
