// proxy: the terminal policy. A step either names an operation handler
// (translation between the public contract and the upstream's API, over a
// keep-alive undici pool) or a `path` whose answer is relayed with
// reply-from, checked against that upstream operation's contract first
// (contracts/upstream-answers.ts: a path without one is a configuration error).

import type { RouteHandlerMethod } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { HANDLERS } from '../../gateway/operations/index.ts';
import { ALWAYS } from '../../platform/pipeline/conditions.ts';
import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { pathOf } from '../../platform/pipeline/request-state.ts';
import type { UpstreamClient } from '../../platform/upstream/client.ts';
import { passThrough } from './pass-through.ts';
import { RELAYED } from '../../contracts/upstream-answers.ts';

export interface ProxyAction {
  serviceEndpoint: string;
  handler?: string;
  path?: string;
}

function relay(upstream: UpstreamClient, method: string, path: string, timeoutMs: number): RouteHandlerMethod {
  const contract = RELAYED.get(`${method} ${path}`);
  if (!contract) throw new Error(`proxy: no upstream contract for ${method} ${path}`); // check() refuses such a config first
  return passThrough({ upstream, path, timeoutMs, contract });
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
  check(action, { config, routes }) {
    const problems: string[] = [];
    if (action.path !== undefined) {
      for (const method of new Set(routes.map((r) => r.method))) {
        if (!RELAYED.has(`${method} ${action.path}`)) {
          problems.push(`path: no upstream contract for ${method} ${action.path}, so its answer could not be checked (relayed: ${[...RELAYED.keys()].join(', ')}; contracts/upstream-answers.ts)`);
        }
      }
    }
    if ((action.handler === undefined) === (action.path === undefined)) problems.push('handler: give exactly one of handler (an operation) or path (stream through)');
    if (!config.serviceEndpoints[action.serviceEndpoint]) {
      problems.push(`serviceEndpoint: unknown service endpoint "${action.serviceEndpoint}" (known: ${Object.keys(config.serviceEndpoints).join(', ')})`);
    }
    if (action.handler !== undefined && !HANDLERS[action.handler]) {
      problems.push(`handler: unknown handler "${action.handler}" (known: ${Object.keys(HANDLERS).join(', ')})`);
    }
    return problems;
  },
  build(steps, route, services) {
    const compiled = steps.map((step) => {
      const upstream = services.upstreams.get(step.action.serviceEndpoint);
      const timeoutMs = services.config.serviceEndpoints[step.action.serviceEndpoint]?.timeoutMs ?? 5000;
      const factory = step.action.handler ? HANDLERS[step.action.handler] : undefined;
      return { condition: step.condition, handler: factory ? factory({ upstream, services }) : relay(upstream, route.method, step.action.path ?? '/', timeoutMs) };
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
