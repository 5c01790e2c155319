// load-shed: refuses a request with 503 + Retry-After, before any upstream
// work, when the gateway's event loop lags (checked in onRequest, for every
// request) or when its upstream is at its adaptive concurrency limit for the
// request's priority class (checked around the upstream call: place the
// policy after `cache` so hits and collapsed reads take no upstream slot).
// Place it after key-auth / jwt-auth: the class depends on who is calling.
//
// In a pipeline where every admitted request calls the upstream (no cache
// step), a full gate also refuses in onRequest, before quota and validation:
// under overload most requests are refused, and a refusal that skips the
// quota's Redis round trip costs the gateway much less CPU. It takes no slot
// there (nothing to leak if a later policy answers or the client leaves);
// the slot is still taken around the upstream call, which may refuse too.
//
// The slot is held exactly while the upstream call runs (the wrapped
// handler's promise), so client aborts cannot leak it. Timeouts and upstream
// 5xx shrink the limit; an unavailable upstream or open breaker gives no
// sample; anything else (2xx, 404) is an RTT sample. The outcome is the
// thrown FacetError's code, or, when the handler answered a failure itself
// (pass-through), the reply's status: 503 no sample, other 5xx a drop.

import type { onRequestHookHandler, RouteHandlerMethod } from 'fastify';
import { type GatewayConfig } from '../../platform/pipeline/config.ts';
import { PRIORITY_CLASSES, sheddingSettings, type PriorityClass, type SheddingSettings } from './settings.ts';
import { UPSTREAM_FAILED, UPSTREAM_NOT_REACHED, type ProblemCode } from '../../platform/errors/catalogue.ts';
import { FacetError, isFacetError } from '../../platform/errors/facet-error.ts';
import { stepPicker, type PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import { priorityOf } from './priority.ts';
import { registerSheddingGauges } from './gauges.ts';
import { createSheddingService, type SheddingService, type ShedReason } from './shedding-service.ts';

export interface LoadShedAction {
  /** The upstream whose adaptive limit this route counts against. */
  serviceEndpoint: string;
  /**
   * false: the event-loop guard only; the call takes no slot of the
   * upstream's adaptive limit and gives it no latency sample. For uploads,
   * whose duration is the client's uplink, not the upstream's latency (they
   * have a bulkhead of their own: platform/upstream/resilience.ts).
   */
  upstreamGate?: boolean;
}

export const kShedClass: unique symbol = Symbol('facet.shedClass');

/** Failures that say the upstream is struggling: the limit shrinks. */
const DROPS: ReadonlySet<ProblemCode> = new Set([...UPSTREAM_FAILED, 'FACET_ERR_INTERNAL']);
/** The upstream was never reached (or this gateway refused first): no latency sample. */
const NO_SAMPLE: ReadonlySet<ProblemCode> = new Set([...UPSTREAM_NOT_REACHED, 'FACET_ERR_OVERLOADED']);

declare module 'fastify' {
  interface FastifyRequest {
    [kShedClass]?: PriorityClass;
  }
}

const AUTH_POLICIES = ['key-auth', 'jwt-auth'];
/** Policies that may answer a request without its upstream call (a cache hit, an idempotent replay): with one in the pipeline, a full gate says nothing in onRequest. */
const ANSWER_WITHOUT_UPSTREAM = ['cache', 'idempotency'];

function policiesOf(config: GatewayConfig, pipeline: string): (string | undefined)[] {
  return (config.pipelines[pipeline]?.policies ?? []).map((entry) => Object.keys(entry)[0]);
}

/** Before authentication every request would look like an internal call, i.e. critical. */
function assertAfterAuth(config: GatewayConfig, pipeline: string): void {
  const names = policiesOf(config, pipeline);
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

export const loadShedPolicy: PolicyDefinition<LoadShedAction, SheddingSettings, SheddingService> = {
  name: 'load-shed',
  terminal: false,
  settings: sheddingSettings,
  createService(host, settings) {
    const shedding = createSheddingService({ shedding: settings, serviceEndpoints: host.config.serviceEndpoints });
    // The gauges are registered once (when shedding is first on) and read whichever service the current config built.
    const gauges = host.retain('load-shed.gauges', () => ({ value: { current: shedding, registered: false } }));
    gauges.current = shedding;
    if (shedding.enabled && !gauges.registered) {
      registerSheddingGauges(host.metrics.registry, () => gauges.current);
      gauges.registered = true;
    }
    return shedding;
  },
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['serviceEndpoint'],
    properties: { serviceEndpoint: { type: 'string' }, upstreamGate: { type: 'boolean', default: true } },
  },
  check(action, { config }) {
    if (config.serviceEndpoints[action.serviceEndpoint]) return [];
    return [`serviceEndpoint: unknown service endpoint "${action.serviceEndpoint}" (known: ${Object.keys(config.serviceEndpoints).join(', ')})`];
  },
  build(steps, route, { config, metrics, service: shedding }) {
    assertAfterAuth(config, route.pipeline);
    if (!shedding.enabled) return {};
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
    const pickStep = stepPicker(steps);
    const alwaysUpstream = !policiesOf(config, route.pipeline).some((name) => name !== undefined && ANSWER_WITHOUT_UPSTREAM.includes(name));

    // Two decisions: the process guard in onRequest (every request costs the
    // event loop), the upstream's adaptive gate around the upstream call
    // itself (a cache hit or a collapsed read takes no upstream slot), looked
    // at in onRequest too when every request would need a slot.
    const decide: onRequestHookHandler = (request, _reply, done) => {
      const step = pickStep(request);
      if (step === undefined) return done();
      const cls = priorityOf(request, plans);
      request[kShedClass] = cls;
      const reason: ShedReason | undefined = shedding.shedByEventLoop(cls)
        ? 'event_loop'
        : alwaysUpstream && step.action.upstreamGate !== false && !shedding.hasRoom(cls, step.action.serviceEndpoint)
          ? 'adaptive_limit'
          : undefined;
      if (reason === undefined) return done();
      metrics.shedDecisions.inc({ plan: request[kConsumer]?.plan ?? 'none', class: cls, outcome: 'shed', reason });
      done(refusals.get(cls + reason));
    };

    const wrapHandler = (inner: RouteHandlerMethod): RouteHandlerMethod =>
      async function shedAtUpstream(request, reply) {
        const cls = request[kShedClass];
        if (cls === undefined) return inner.call(this, request, reply);
        const step = pickStep(request);
        if (step?.action.upstreamGate === false) return inner.call(this, request, reply);
        const plan = request[kConsumer]?.plan ?? 'none';
        const ticket = step ? shedding.acquire(cls, step.action.serviceEndpoint) : null;
        if (ticket === null) {
          metrics.shedDecisions.inc({ plan, class: cls, outcome: 'shed', reason: 'adaptive_limit' });
          throw refusals.get(cls + 'adaptive_limit');
        }
        metrics.shedDecisions.inc({ plan, class: cls, outcome: 'admitted', reason: 'none' });
        ticket.begin(performance.now());
        try {
          const result = await inner.call(this, request, reply);
          // A handler may answer an upstream failure itself rather than throw
          // (the streaming pass-through sends its problem+json and returns):
          // its status says what happened, as a thrown error's code would.
          const status = reply.statusCode;
          if (status === 503) ticket.abandon();
          else ticket.release(status >= 500, performance.now());
          return result;
        } catch (error) {
          const code = isFacetError(error) ? error.code : 'FACET_ERR_INTERNAL';
          // Timeouts and upstream 5xx are drops; an unavailable upstream or an
          // open breaker says nothing about latency; anything else is a sample.
          if (NO_SAMPLE.has(code)) ticket.abandon();
          else ticket.release(DROPS.has(code), performance.now());
          throw error;
        }
      };

    return { onRequest: [decide], wrapHandler };
  },
};
