// proxy: the terminal policy. A step either names an operation handler
// (translation between the public contract and the upstream's API, over a
// keep-alive undici pool) or a `path` to stream through with reply-from.

import type { RouteHandlerMethod } from 'fastify';
import { FacetError } from '../../gateway/errors/facet-error.ts';
import { HANDLERS } from '../../gateway/handlers/index.ts';
import { ALWAYS } from '../../gateway/pipeline/conditions.ts';
import type { PolicyDefinition } from '../../gateway/pipeline/policy.ts';
import { pathOf } from '../../gateway/request-state.ts';
import { passThrough } from '../../gateway/upstream/pass-through.ts';

export interface ProxyAction {
  serviceEndpoint: string;
  handler?: string;
  path?: string;
}

export const proxyPolicy: PolicyDefinition<ProxyAction> = {
  name: 'proxy',
  terminal: true,
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['serviceEndpoint'],
    properties: {
      serviceEndpoint: { type: 'string' },
      handler: { type: 'string' },
      path: { type: 'string', pattern: '^/[^\\s?#]*$' },
    },
  },
  check(action, { config }) {
    const problems: string[] = [];
    if ((action.handler === undefined) === (action.path === undefined)) problems.push('handler: give exactly one of handler (an operation) or path (stream through)');
    if (!config.serviceEndpoints[action.serviceEndpoint]) {
      problems.push(`serviceEndpoint: unknown service endpoint "${action.serviceEndpoint}" (known: ${Object.keys(config.serviceEndpoints).join(', ')})`);
    }
    if (action.handler !== undefined && !HANDLERS[action.handler]) {
      problems.push(`handler: unknown handler "${action.handler}" (known: ${Object.keys(HANDLERS).join(', ')})`);
    }
    return problems;
  },
  build(steps, _route, services) {
    const compiled = steps.map((step) => {
      const upstream = services.upstreams.get(step.action.serviceEndpoint);
      const timeoutMs = services.config.serviceEndpoints[step.action.serviceEndpoint]?.timeoutMs ?? 5000;
      const factory = step.action.handler ? HANDLERS[step.action.handler] : undefined;
      const handler: RouteHandlerMethod = factory ? factory({ upstream, services }) : passThrough(upstream, step.action.path ?? '/', timeoutMs);
      return { condition: step.condition, handler };
    });
    const only = compiled[0];
    if (compiled.length === 1 && only && only.condition === ALWAYS) return { handler: only.handler };
    const handler: RouteHandlerMethod = function proxyByCondition(request, reply) {
      const input = { method: request.method, path: pathOf(request.url), headers: request.headers };
      const match = compiled.find((c) => c.condition(input));
      if (!match) throw new FacetError('FACET_ERR_ROUTE_NOT_FOUND');
      return match.handler.call(this, request, reply);
    };
    return { handler };
  },
};
