// The time a request waited on upstreams, so the gateway's own share of it
// can be told apart (gateway/metrics/request-metrics.ts):
//
// facet_gateway_overhead_seconds = the request's duration (Fastify's
// reply.elapsedTime: request received → response written) minus the time it
// waited on upstreams. That wait is added up where the gateway awaits an
// upstream: UpstreamClient.json() (undici, retries and backoff included, up
// to the parsed body) for the request it is given as `caller`, the
// reply-from pass-through until the upstream's headers arrive, and a cached
// read's wait for another request's fetch of the same key. What is left is
// Fastify, the policies (Redis round trips for quotas and cache included),
// validation, translation and serialisation.

const kUpstreamWait: unique symbol = Symbol('facet.upstreamWaitSeconds');

/** What an upstream call reports its wait to: the incoming request it serves. */
export interface UpstreamWaitSink {
  [kUpstreamWait]?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    [kUpstreamWait]?: number;
  }
}

export function addUpstreamWait(sink: UpstreamWaitSink | undefined, seconds: number): void {
  if (sink) sink[kUpstreamWait] = (sink[kUpstreamWait] ?? 0) + seconds;
}

export function upstreamWaitOf(sink: UpstreamWaitSink): number {
  return sink[kUpstreamWait] ?? 0;
}

/** Seconds since `started` (a performance.now() reading). */
export function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}
