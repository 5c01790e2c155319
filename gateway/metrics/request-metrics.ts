// RED metrics per answer, and the gateway's own share of each request: its
// duration minus the time it waited on upstreams (platform/metrics/upstream-wait.ts).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayMetrics } from '../../platform/metrics/registry.ts';
import { observeSeconds } from '../../platform/metrics/trace-exemplar.ts';
import { upstreamWaitOf } from '../../platform/metrics/upstream-wait.ts';
import { isInternalOperator } from '../../platform/pipeline/internal-caller.ts';
import { kConsumer, kOperator } from '../../platform/pipeline/request-state.ts';

function planOf(request: FastifyRequest): string {
  const consumer = request[kConsumer];
  if (consumer) return consumer.plan;
  return request[kOperator] ? 'operator' : 'none';
}

const STARTED_AT = 'facetStartedAt';
declare module 'fastify' {
  interface FastifyRequest {
    /** performance.now() when the request arrived (its duration if the client goes away). */
    [STARTED_AT]: number;
  }
}

/** nginx's status for a client that went away before its answer. */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * Requests whose client went away before sending its whole body (an aborted
 * upload): Fastify never runs onResponse for them (nothing is written), so
 * their request line and RED series are written on abort, with 499, once.
 */
const closedByClient = new WeakSet<FastifyRequest>();

export function markClosedByClient(request: FastifyRequest): boolean {
  if (closedByClient.has(request)) return false;
  closedByClient.add(request);
  return true;
}

export function isClosedByClient(request: FastifyRequest): boolean {
  return closedByClient.has(request);
}

/** Observes every answer once it is written. Labels are all bounded: route templates, not URLs. */
export function installRequestMetrics(
  app: FastifyInstance,
  metrics: Pick<GatewayMetrics, 'httpRequestDuration' | 'gatewayOverhead'>,
  /** Told of each request closed by its client (for the request log line). */
  onClosedByClient?: (request: FastifyRequest, latencyMs: number) => void,
): void {
  // A decorated field, not a WeakMap: no ephemeron entry per request for the GC to trace.
  app.decorateRequest(STARTED_AT, 0);
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    request[STARTED_AT] = performance.now();
    done();
  });
  app.addHook('onRequestAbort', (request: FastifyRequest, done: () => void) => {
    if (!markClosedByClient(request)) return done();
    const route = request.routeOptions.url ?? 'unmatched';
    const ms = performance.now() - request[STARTED_AT];
    onClosedByClient?.(request, ms);
    const seconds = ms / 1000;
    observeSeconds(metrics.httpRequestDuration, { route, method: request.method, status: CLIENT_CLOSED_STATUS, plan: planOf(request) }, seconds);
    observeSeconds(metrics.gatewayOverhead, { route }, Math.max(0, seconds - upstreamWaitOf(request)));
    done();
  });
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    // The gateway's own requests (refresh-ahead) are not clients' answers.
    if (request[kConsumer] === undefined && isInternalOperator(request[kOperator])) return done();
    if (isClosedByClient(request)) return done(); // already counted as 499
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    observeSeconds(metrics.httpRequestDuration, { route, method: request.method, status: reply.statusCode, plan: planOf(request) }, seconds);
    observeSeconds(metrics.gatewayOverhead, { route }, Math.max(0, seconds - upstreamWaitOf(request)));
    done();
  });
}
