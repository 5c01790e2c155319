// validate: the route's request schema (query, path, body) and its response
// serialisation come from the OpenAPI operation with the same path and
// method, so what is enforced is exactly what the portal documents; a body
// of a media type the operation does not list is a 415 (media-types.ts).

import type { preValidationHookHandler, onRequestHookHandler } from 'fastify';
import { FacetError } from '../../platform/errors/facet-error.ts';
import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { mediaTypeGuard } from './media-types.ts';

export interface ValidateAction {
  contract: string;
}

const DECIMAL = { integer: /^-?\d{1,15}$/, number: /^-?\d{1,15}(\.\d{1,15})?$/ } as const;

/**
 * ajv's type coercion turns `?limit=1e999` into Infinity, which then passes
 * `maximum` (and `0x10` into 16): numeric query parameters must be plain
 * decimals before ajv sees them.
 */
function plainNumbers(querystring: unknown): onRequestHookHandler | undefined {
  const properties = (querystring as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties ?? {};
  const numeric = Object.entries(properties).filter((entry): entry is [string, { type: 'integer' | 'number' }] => entry[1].type === 'integer' || entry[1].type === 'number');
  if (numeric.length === 0) return undefined;
  return async (request) => {
    const query = request.query as Record<string, string | string[] | undefined>;
    for (const [name, { type }] of numeric) {
      const raw = query[name];
      if (raw === undefined) continue;
      for (const value of Array.isArray(raw) ? raw : [raw]) {
        if (!DECIMAL[type].test(value)) {
          throw new FacetError('FACET_ERR_VALIDATION', { detail: `query.${name} must be ${type}`, errors: [{ field: `query.${name}`, message: `must be ${type}` }] });
        }
      }
    }
  };
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
  check(action, { specs, routes }) {
    if (!specs.specNames.includes(action.contract)) return [`contract: unknown contract "${action.contract}" (see contracts:)`];
    return routes
      .filter((r) => !specs.operation(action.contract, r.method, r.path))
      .map((r) => `contract: ${action.contract} has no operation for ${r.method} ${r.path} (apiEndpoint ${r.apiEndpoint})`);
  },
  build(steps, route, { specs }) {
    // Validation is structural: one contract per route, whichever step.
    const contract = steps[0]?.action.contract ?? '';
    const operation = specs.operation(contract, route.method, route.path);
    if (!operation) return {};
    const numbers = plainNumbers(operation.schema.querystring);
    const mediaTypes = mediaTypeGuard(route.method, operation.operation.requestBody);
    const onRequest = [mediaTypes, numbers].filter((hook): hook is onRequestHookHandler => hook !== undefined);
    // An optional JSON body that was not sent is validated as `{}` (the schema
    // describes an object; "no body" must not read as "body must be object").
    const bodyOptional = operation.schema.body !== undefined && (operation.operation.requestBody as { required?: boolean } | undefined)?.required !== true;
    const emptyBody: preValidationHookHandler = async (request) => {
      if (request.body === undefined) request.body = {};
    };
    return { schema: operation.schema, ...(onRequest.length > 0 && { onRequest }), ...(bodyOptional && { preValidation: [emptyBody] }) };
  },
};
