// respond: the terminal policy for operations Facet answers itself, with no
// upstream (e.g. GET /v1/usage, the webhooks API). The handler is the
// route's OpenAPI operation's, by operationId: the gateway's own, or one a
// policy brings (quota's getUsage).

import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';

export type RespondAction = Record<string, never>;

export const respondPolicy: PolicyDefinition<RespondAction> = {
  name: 'respond',
  terminal: true,
  actionSchema: { type: 'object', additionalProperties: false, properties: {} },
  check(_action, { routes, operations }) {
    const problems: string[] = [];
    for (const route of routes) {
      if (route.operationId === undefined) problems.push(`${route.method} ${route.path}: is in no OpenAPI spec, so it has no operation handler`);
      else if (!operations.local.has(route.operationId)) problems.push(`${route.method} ${route.path}: no handler for operation ${route.operationId} (known: ${[...operations.local].join(', ')})`);
    }
    return problems;
  },
  build(_steps, route, { operations }) {
    const handler = operations.localHandler(route.operationId ?? '');
    if (!handler) throw new Error(`respond: no handler for ${route.method} ${route.path}`); // check() refuses such a config first
    return { handler };
  },
};
