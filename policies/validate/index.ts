// validate: the route's request schema (query, path, body) and its response
// serialisation come from the OpenAPI operation with the same path and
// method, so what is enforced is exactly what the portal documents.

import type { PolicyDefinition } from '../../gateway/pipeline/policy.ts';

export interface ValidateAction {
  contract: string;
}

export const validatePolicy: PolicyDefinition<ValidateAction> = {
  name: 'validate',
  terminal: false,
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['contract'],
    properties: { contract: { type: 'string' } },
  },
  check(action, { contracts, routes }) {
    if (!contracts.contracts.has(action.contract)) return [`contract: unknown contract "${action.contract}" (see contracts:)`];
    return routes
      .filter((r) => !contracts.operation(action.contract, r.method, r.path))
      .map((r) => `contract: ${action.contract} has no operation for ${r.method} ${r.path} (apiEndpoint ${r.apiEndpoint})`);
  },
  build(steps, route, services) {
    // Validation is structural: one contract per route, whichever step.
    const contract = steps[0]?.action.contract ?? '';
    const operation = services.contracts.operation(contract, route.method, route.path);
    return operation ? { schema: operation.schema } : {};
  },
};
