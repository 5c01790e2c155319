// proxy: the terminal policy for operations answered by an upstream. The
// handler is the route's OpenAPI operation's (by operationId: translation
// between the public contract and the upstream's API, over a keep-alive
// undici pool), or, for a step with a `path`, the upstream's answer at that
// path relayed with reply-from, checked against that upstream operation's
// contract first (platform/upstream/operations.ts: a path without one is a
// configuration error). Steps apply first-match on their conditions, e.g.
// to send some requests to another service endpoint.

import type { RouteHandlerMethod } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { ALWAYS } from '../../platform/pipeline/conditions.ts';
import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { conditionInputOf } from '../../platform/pipeline/request-state.ts';
import type { UpstreamClient } from '../../platform/upstream/client.ts';
import { RELAYED } from '../../platform/upstream/operations.ts';
import { passThrough } from './pass-through.ts';

export interface ProxyAction {
  serviceEndpoint: string;
  /** Relay the upstream's answer at this path instead of the operation's handler. */
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
      path: { type: 'string', pattern: '^/[^\\s?#]*$' },
    },
  },
  check(action, { config, routes, operations }) {
    const problems: string[] = [];
    if (action.path !== undefined) {
      for (const method of new Set(routes.map((r) => r.method))) {
        if (!RELAYED.has(`${method} ${action.path}`)) {
          problems.push(`path: no upstream contract for ${method} ${action.path}, so its answer could not be checked (relayed: ${[...RELAYED.keys()].join(', ')}; contracts/upstream-answers.ts)`);
        }
      }
    } else {
      for (const route of routes) {
        if (route.operationId === undefined) problems.push(`serviceEndpoint: ${route.method} ${route.path} is in no OpenAPI spec, so it has no operation handler (give a path to relay)`);
        else if (!operations.remote.has(route.operationId)) problems.push(`serviceEndpoint: no upstream handler for operation ${route.operationId} of ${route.method} ${route.path} (known: ${[...operations.remote].join(', ')})`);
      }
    }
    if (!config.serviceEndpoints[action.serviceEndpoint]) {
      problems.push(`serviceEndpoint: unknown service endpoint "${action.serviceEndpoint}" (known: ${Object.keys(config.serviceEndpoints).join(', ')})`);
    }
    return problems;
  },
  build(steps, route, { upstreams, config, operations }) {
    const compiled = steps.map((step) => {
      const upstream = upstreams.get(step.action.serviceEndpoint);
      const timeoutMs = config.serviceEndpoints[step.action.serviceEndpoint]?.timeoutMs ?? 5000;
      const handler = step.action.path !== undefined ? relay(upstream, route.method, step.action.path, timeoutMs) : operations.remoteHandler(route.operationId ?? '', upstream);
      if (!handler) throw new Error(`proxy: no handler for ${route.method} ${route.path}`); // check() refuses such a config first
      return { condition: step.condition, handler };
    });
    const only = compiled[0];
    if (compiled.length === 1 && only && only.condition === ALWAYS) return { handler: only.handler };
    const handler: RouteHandlerMethod = function proxyByCondition(request, reply) {
      const input = conditionInputOf(request);
      const match = compiled.find((c) => c.condition(input));
      if (!match) throw new FacetError('FACET_ERR_ROUTE_NOT_FOUND');
      return match.handler.call(this, request, reply);
    };
    return { handler };
  },
};
