// The OpenAPI specs as the security suites read them: every operation of
// both specs (iterated, never hand-listed, so new routes are covered), its
// parameters, request media types and documented responses, and ajv
// validators built from the spec's own components.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Ajv, ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { absoluteRefs, makeAjv } from '../helpers/openapi-schemas.ts';

export type Json = Record<string, unknown>;

export const SPEC_FILES = { seller: 'openapi/seller-api.yaml', internal: 'openapi/internal-api.yaml' } as const;
export type SpecName = keyof typeof SPEC_FILES;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function loadSpec(name: SpecName): Json {
  const value: unknown = parse(readFileSync(new URL(`../../${SPEC_FILES[name]}`, import.meta.url), 'utf8'));
  assert.ok(isObject(value), `${SPEC_FILES[name]} is not a mapping`);
  return value;
}

export const specs: Record<SpecName, Json> = { seller: loadSpec('seller'), internal: loadSpec('internal') };

/** The node itself, or what its local `$ref` chain points at. */
export function deref(document: Json, node: unknown): Json {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    assert.ok(hops < 16, 'reference chain too long');
    const ref = current.$ref;
    assert.ok(ref.startsWith('#/'), `only local $ref is supported, got ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((at, raw) => (isObject(at) ? at[raw.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), document);
    assert.ok(current !== undefined, `unresolved $ref ${ref}`);
  }
  assert.ok(isObject(current), 'expected an object');
  return current;
}

/** A schema with every `$ref` inlined (the specs have no recursive schemas). */
export function inline(document: Json, node: unknown, depth = 0): unknown {
  assert.ok(depth < 64, 'schema nesting too deep');
  if (Array.isArray(node)) return node.map((item) => inline(document, item, depth + 1));
  if (!isObject(node)) return node;
  if (typeof node.$ref === 'string') return inline(document, deref(document, node), depth + 1);
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(document, v, depth + 1)]));
}

export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required: boolean;
  schema: Json;
}

export interface DocumentedResponse {
  /** Media type → the response schema (refs still pointing at components). */
  content: Map<string, unknown>;
}

export interface Operation {
  spec: SpecName;
  /** OpenAPI form, `/v1/orders/{id}`. */
  path: string;
  method: string;
  operationId: string;
  parameters: Parameter[];
  /** Media type → (inlined) request schema; empty when there is no body. */
  requestBody: Map<string, Json>;
  requestBodyRequired: boolean;
  requestBodyExamples: unknown[];
  responses: Map<string, DocumentedResponse>;
  /** Needs credentials (an operation-level `security: []` means public). */
  secured: boolean;
  /** Answers `text/event-stream` (SSE): request it briefly and check status and headers only. */
  streaming: boolean;
}

function operationsOf(spec: SpecName): Operation[] {
  const document = specs[spec];
  const out: Operation[] = [];
  for (const [path, rawItem] of Object.entries((document.paths as Json | undefined) ?? {})) {
    const item = deref(document, rawItem);
    for (const method of METHODS) {
      const raw = item[method];
      if (!isObject(raw)) continue;
      const parameters = [...((item.parameters as unknown[]) ?? []), ...((raw.parameters as unknown[]) ?? [])].map((p) => {
        const param = deref(document, p);
        return { name: String(param.name), in: param.in as Parameter['in'], required: param.required === true || param.in === 'path', schema: inline(document, param.schema ?? {}) as Json };
      });
      const body = raw.requestBody === undefined ? undefined : deref(document, raw.requestBody);
      const requestBody = new Map<string, Json>();
      const requestBodyExamples: unknown[] = [];
      for (const [media, entry] of Object.entries((body?.content as Json | undefined) ?? {})) {
        const m = deref(document, entry);
        requestBody.set(media, inline(document, m.schema ?? {}) as Json);
        for (const ex of Object.values((m.examples as Json | undefined) ?? {})) requestBodyExamples.push(deref(document, ex).value);
        if (m.example !== undefined) requestBodyExamples.push(m.example);
      }
      const responses = new Map<string, DocumentedResponse>();
      for (const [status, entry] of Object.entries((raw.responses as Json | undefined) ?? {})) {
        const response = deref(document, entry);
        const content = new Map<string, unknown>();
        for (const [media, m] of Object.entries((response.content as Json | undefined) ?? {})) content.set(media, deref(document, m).schema);
        responses.set(status, { content });
      }
      const security = (raw.security ?? document.security) as unknown[] | undefined;
      const streaming = [...responses.values()].some((r) => r.content.has('text/event-stream'));
      out.push({
        spec,
        path,
        method: method.toUpperCase(),
        operationId: String(raw.operationId ?? `${method.toUpperCase()} ${path}`),
        parameters,
        requestBody,
        requestBodyRequired: body?.required === true,
        requestBodyExamples,
        responses,
        secured: Array.isArray(security) && security.length > 0,
        streaming,
      });
    }
  }
  return out;
}

export const operations: Operation[] = [...operationsOf('seller'), ...operationsOf('internal')];

/** How many operations the YAML holds, counted without the code above: a guard against a loader that drops some. */
export function countOperationsInSpecs(): number {
  let count = 0;
  for (const document of Object.values(specs)) {
    for (const item of Object.values((document.paths as Json | undefined) ?? {})) {
      for (const key of Object.keys(deref(document, item))) if ((METHODS as readonly string[]).includes(key)) count++;
    }
  }
  return count;
}

/** The documented response for a status: exact, then `4XX`-style ranges, then `default`. */
export function documentedResponse(op: Operation, status: number): DocumentedResponse | undefined {
  return op.responses.get(String(status)) ?? op.responses.get(`${String(status)[0]}XX`) ?? op.responses.get('default');
}

const ajvs: Record<SpecName, Ajv> = { seller: makeAjv('seller', specs.seller), internal: makeAjv('internal', specs.internal) };
const compiled = new Map<unknown, ValidateFunction>();

/** A validator for a schema of the spec (compiled once per schema object). */
export function validatorFor(spec: SpecName, schema: unknown): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajvs[spec].compile(absoluteRefs(spec, schema) as Json);
    compiled.set(schema, validate);
  }
  return validate;
}

/** `/v1/orders/{id}` with its path parameters filled in (values already encoded by the caller). */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `no value for path parameter ${name} of ${path}`);
    return value;
  });
}
