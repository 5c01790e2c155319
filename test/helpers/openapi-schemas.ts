// ajv over an OpenAPI document's components, for the tests that validate
// against the specs (test/contract/openapi-types.test.ts, test/security/).
// Each component schema is added under an absolute id, and a schema's
// `#/components/schemas/X` references are rewritten to that id, so any schema
// of the spec compiles on its own.

import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';

type Json = Record<string, unknown>;

export const SCHEMA_BASE = 'https://facet.invalid/';

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A deep copy with `#/components/schemas/X` turned into `${base}X` (the AsyncAPI contract test uses it too). */
export function rebaseRefs(base: string, node: unknown): unknown {
  if (Array.isArray(node)) return node.map((item) => rebaseRefs(base, item));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      const match = /^#\/components\/schemas\/([^/]+)$/.exec(value);
      assert.ok(match, `schema $ref must point at #/components/schemas/<name>, got ${value}`);
      out[key] = `${base}${match[1]}`;
    } else {
      out[key] = rebaseRefs(base, value);
    }
  }
  return out;
}

/** A deep copy with `#/components/schemas/X` turned into the absolute id ajv knows X by. */
export function absoluteRefs(spec: string, node: unknown): unknown {
  return rebaseRefs(`${SCHEMA_BASE}${spec}/schemas/`, node);
}

/**
 * ajv 8 with every component schema of `document` added, strict: unknown
 * keywords (`nullable`, `example`, ...) and unknown formats are errors, so
 * whatever compiles here compiles in Fastify too.
 */
export function makeAjv(spec: string, document: Json): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: true });
  ajvFormats.default(ajv);
  const schemas = ((document.components as Json | undefined)?.schemas as Json | undefined) ?? {};
  for (const [name, schema] of Object.entries(schemas)) {
    ajv.addSchema({ ...(absoluteRefs(spec, schema) as Json), $id: `${SCHEMA_BASE}${spec}/schemas/${name}` });
  }
  return ajv;
}
