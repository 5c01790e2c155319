// respond: the terminal policy for operations Facet answers itself, with no
// upstream (e.g. GET /v1/usage).

import { LOCAL_HANDLERS } from '../../gateway/handlers/index.ts';
import type { PolicyDefinition } from '../../gateway/pipeline/policy.ts';

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
    const factory = LOCAL_HANDLERS[steps[0]?.action.handler ?? ''];
    if (!factory) throw new Error('respond: no handler');
    return { handler: factory({ services }) };
  },
};
