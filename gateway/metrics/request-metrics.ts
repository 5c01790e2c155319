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

/** Observes every answer once it is written. Labels are all bounded: route templates, not URLs. */
export function installRequestMetrics(app: FastifyInstance, metrics: Pick<GatewayMetrics, 'httpRequestDuration' | 'gatewayOverhead'>): void {
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    // The gateway's own requests (refresh-ahead) are not clients' answers.
    if (request[kConsumer] === undefined && isInternalOperator(request[kOperator])) return done();
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    observeSeconds(metrics.httpRequestDuration, { route, method: request.method, status: reply.statusCode, plan: planOf(request) }, seconds);
    observeSeconds(metrics.gatewayOverhead, { route }, Math.max(0, seconds - upstreamWaitOf(request)));
    done();
  });
}
