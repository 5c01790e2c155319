// respond: the terminal policy for operations Facet answers itself, with no
// upstream (e.g. GET /v1/usage). Steps apply first-match, as in proxy: one
// pipeline can serve several operations (the webhooks API).

import type { RouteHandlerMethod } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { LOCAL_HANDLERS } from '../../gateway/operations/index.ts';
import { ALWAYS } from '../../platform/pipeline/conditions.ts';
import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { pathOf } from '../../platform/pipeline/request-state.ts';

export interface RespondAction {
  handler: string;
}

export const respondPolicy: PolicyDefinition<RespondAction> = {
  name: 'respond',
  terminal: true,
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['handler'],
    properties: { handler: { type: 'string' } },
  },
  check(action) {
    return LOCAL_HANDLERS[action.handler] ? [] : [`handler: unknown handler "${action.handler}" (known: ${Object.keys(LOCAL_HANDLERS).join(', ')})`];
  },
  build(steps, _route, services) {
    const compiled = steps.map((step) => {
      const factory = LOCAL_HANDLERS[step.action.handler];
      if (!factory) throw new Error('respond: no handler');
      return { condition: step.condition, handler: factory({ services }) };
    });
    const only = compiled[0];
    if (compiled.length === 1 && only && only.condition === ALWAYS) return { handler: only.handler };
    const handler: RouteHandlerMethod = function respondByCondition(request, reply) {
      const input = { method: request.method, path: pathOf(request.url), headers: request.headers };
      const match = compiled.find((c) => c.condition(input));
      if (!match) throw new FacetError('FACET_ERR_ROUTE_NOT_FOUND');
      return match.handler.call(this, request, reply);
    };
    return { handler };
  },
};
