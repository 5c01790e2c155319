// load-shed: refuses a request with 503 + Retry-After, before any upstream
// work, when its upstream is at its adaptive concurrency limit for the
// request's priority class or the gateway's event loop lags (see
// shedding-service.ts). Place it after key-auth / jwt-auth in the pipeline:
// the class depends on who is calling.
//
// Hooks: onRequest decides and takes a slot; preHandler restarts the RTT
// clock where upstream work begins; onResponse frees the slot and feeds the
// limit. A request that never reached its handler (quota 429, validation 400)
// or that answered 503 frees its slot without a sample, so fast local answers
// do not make the upstream look quick. Fastify runs no onResponse when the
// client disconnects first, so the raw response's `close` frees the slot then.

import type { onRequestHookHandler, onResponseHookHandler, preHandlerHookHandler } from 'fastify';
import { PRIORITY_CLASSES, type GatewayConfig, type PriorityClass } from '../../gateway/config/types.ts';
import { FacetError } from '../../gateway/errors/facet-error.ts';
import { ALWAYS } from '../../gateway/pipeline/conditions.ts';
import { firstMatching, type PolicyDefinition, type PolicyStep } from '../../gateway/pipeline/policy.ts';
import { kConsumer, pathOf } from '../../gateway/request-state.ts';
import type { GatewayServices } from '../../gateway/services.ts';
import { priorityOf } from './priority.ts';
import type { SheddingService, ShedReason } from './shedding-service.ts';
import type { Ticket } from './upstream-gate.ts';

export interface LoadShedAction {
  /** The upstream whose adaptive limit this route counts against. */
  serviceEndpoint: string;
}

export const kShedTicket: unique symbol = Symbol('facet.shedTicket');

declare module 'fastify' {
  interface FastifyRequest {
    [kShedTicket]?: Ticket;
  }
}

/** Until GatewayServices declares `shedding`, read it through this one typed accessor. */
export function sheddingOf(services: GatewayServices): SheddingService {
  return services.shedding;
}

const AUTH_POLICIES = ['key-auth', 'jwt-auth'];

/** Before authentication every request would look like an internal call, i.e. critical. */
function assertAfterAuth(config: GatewayConfig, pipeline: string): void {
  const names = (config.pipelines[pipeline]?.policies ?? []).map((entry) => Object.keys(entry)[0]);
  const at = names.indexOf('load-shed');
  const auth = names.findIndex((name) => name !== undefined && AUTH_POLICIES.includes(name));
  if (at !== -1 && auth > at) {
    throw new Error(`pipelines.${pipeline}: load-shed must come after ${names[auth]} (the priority class depends on the caller)`);
  }
}

const DETAIL: Record<ShedReason, string> = {
  adaptive_limit: 'The upstream behind this operation is at capacity for',
  event_loop: 'The gateway is overloaded and is shedding',
};

function detailFor(cls: PriorityClass, reason: ShedReason, retryAfterSec: number): string {
  return `${DETAIL[reason]} ${cls} requests; retry in ${retryAfterSec} s`;
}

export const loadShedPolicy: PolicyDefinition<LoadShedAction> = {
  name: 'load-shed',
  terminal: false,
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['serviceEndpoint'],
    properties: { serviceEndpoint: { type: 'string' } },
  },
  check(action, { config }) {
    if (config.serviceEndpoints[action.serviceEndpoint]) return [];
    return [`serviceEndpoint: unknown service endpoint "${action.serviceEndpoint}" (known: ${Object.keys(config.serviceEndpoints).join(', ')})`];
  },
  build(steps, route, services) {
    assertAfterAuth(services.config, route.pipeline);
    const shedding = sheddingOf(services);
    if (!shedding.enabled) return {};
    const { metrics, config } = services;
    const { plans } = config;
    // The refusals are built once: an Error's stack capture costs more than
    // the whole decision, and a shed request's stack says nothing anyway.
    const { retryAfterSec } = shedding.settings;
    const refusals = new Map<string, FacetError>();
    for (const cls of PRIORITY_CLASSES) {
      for (const reason of Object.keys(DETAIL) as ShedReason[]) {
        refusals.set(cls + reason, new FacetError('FACET_ERR_OVERLOADED', { detail: detailFor(cls, reason, retryAfterSec), headers: { 'retry-after': String(retryAfterSec) } }));
      }
    }
    const only: PolicyStep<LoadShedAction> | undefined = steps.length === 1 && steps[0]?.condition === ALWAYS ? steps[0] : undefined;

    const decide: onRequestHookHandler = (request, reply, done) => {
      const step = only ?? firstMatching(steps, { method: request.method, path: pathOf(request.url), headers: request.headers });
      if (step === undefined) return done();
      const cls = priorityOf(request, plans);
      const plan = request[kConsumer]?.plan ?? 'none';
      const admission = shedding.admit(cls, step.action.serviceEndpoint);
      if ('shed' in admission) {
        metrics.shedDecisions.inc({ plan, class: cls, outcome: 'shed', reason: admission.shed });
        return done(refusals.get(cls + admission.shed));
      }
      metrics.shedDecisions.inc({ plan, class: cls, outcome: 'admitted', reason: 'none' });
      const { ticket } = admission;
      request[kShedTicket] = ticket;
      const raw = reply.raw;
      raw.on('close', () => {
        if (!raw.writableFinished) ticket.abandon(); // client went away; onResponse will not run
      });
      done();
    };

    const begin: preHandlerHookHandler = (request, _reply, done) => {
      request[kShedTicket]?.begin(performance.now());
      done();
    };

    const settle: onResponseHookHandler = (request, reply, done) => {
      const ticket = request[kShedTicket];
      if (ticket !== undefined) {
        const status = reply.statusCode;
        if (!ticket.begun || status === 503) ticket.abandon();
        else ticket.release(status >= 500, performance.now()); // 500, 502, 504 (upstream timeout): a drop
      }
      done();
    };

    return { onRequest: [decide], preHandler: [begin], onResponse: [settle] };
  },
};
