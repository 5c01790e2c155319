// RED metrics per answer, and the gateway's own share of each request.
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

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { kConsumer, kOperator } from '../pipeline/request-state.ts';
import type { GatewayMetrics } from './registry.ts';
import { observeSeconds } from './trace-exemplar.ts';

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

function planOf(request: FastifyRequest): string {
  const consumer = request[kConsumer];
  if (consumer) return consumer.plan;
  return request[kOperator] ? 'operator' : 'none';
}

/** Observes every answer once it is written. Labels are all bounded: route templates, not URLs. */
export function installRequestMetrics(app: FastifyInstance, metrics: Pick<GatewayMetrics, 'httpRequestDuration' | 'gatewayOverhead'>): void {
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    observeSeconds(metrics.httpRequestDuration, { route, method: request.method, status: reply.statusCode, plan: planOf(request) }, seconds);
    observeSeconds(metrics.gatewayOverhead, { route }, Math.max(0, seconds - upstreamWaitOf(request)));
    done();
  });
}
