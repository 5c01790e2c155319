// Loads the OpenAPI documents and turns an operation into a Fastify route
// schema, so request validation and response serialisation follow the
// contract that the portal shows.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifySchema } from 'fastify';
import type { OperationLookup, RouteOperation } from '../../platform/pipeline/policy.ts';
import { parse } from 'yaml';

type Json = Record<string, unknown>;

export interface SpecOperation extends RouteOperation {
  /** The spec's name in the config's `contracts:`. */
  spec: string;
  operationId: string;
  method: string;
  /** Fastify form: `/v1/orders/:id`. */
  path: string;
  schema: FastifySchema;
  /** The raw (dereferenced) operation object, for policies reading x- extensions. */
  operation: Json;
}

export interface ApiSpec {
  name: string;
  file: string;
  document: Json;
  operations: Map<string, SpecOperation>;
}

/** Schema keywords of OpenAPI that JSON Schema validators do not need. */
const ANNOTATIONS_TO_DROP = new Set(['example', 'xml', 'externalDocs', 'discriminator']);

function resolvePointer(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local $ref is supported, got ${ref}`);
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = (node as Json | undefined)?.[key];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node;
}

/** Inlines local $refs; the specs have no recursive schemas. */
function dereference(document: Json, node: unknown, depth = 0): unknown {
  if (depth > 64) throw new Error('$ref nesting too deep (recursive schema?)');
  if (Array.isArray(node)) return node.map((item) => dereference(document, item, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Json;
  if (typeof obj.$ref === 'string') return dereference(document, resolvePointer(document, obj.$ref), depth + 1);
  const out: Json = {};
  for (const [key, value] of Object.entries(obj)) out[key] = dereference(document, value, depth + 1);
  return out;
}

/** Drops OpenAPI-only annotations and x- extensions from a JSON Schema. */
function cleanSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(cleanSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (ANNOTATIONS_TO_DROP.has(key) || key.startsWith('x-')) continue;
    // `properties` holds names, not keywords: keep every name, clean the values.
    if (key === 'properties' && value && typeof value === 'object') {
      const props: Json = {};
      for (const [prop, schema] of Object.entries(value as Json)) props[prop] = cleanSchema(schema);
      out[key] = props;
    } else {
      out[key] = cleanSchema(value);
    }
  }
  return out;
}

interface ParameterObject {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  schema?: Json;
}

function parameterSchema(parameters: ParameterObject[], location: 'query' | 'path'): Json | undefined {
  const selected = parameters.filter((p) => p.in === location);
  if (selected.length === 0 && location === 'path') return undefined;
  const properties: Json = {};
  const required: string[] = [];
  for (const p of selected) {
    properties[p.name] = cleanSchema(p.schema ?? {});
    if (p.required || location === 'path') required.push(p.name);
  }
  // Unknown query parameters are an error, not silently ignored.
  return { type: 'object', properties, required, additionalProperties: false };
}

function responseSchemas(responses: Json | undefined): Json {
  const out: Json = {};
  for (const [status, response] of Object.entries(responses ?? {})) {
    if (!/^2\d\d$/.test(status)) continue; // errors are serialised by the problem handler
    const content = (response as Json).content as Json | undefined;
    const media = (content?.['application/json'] as Json | undefined)?.schema;
    if (media) out[status] = cleanSchema(media);
  }
  return out;
}

export function toFastifyPath(openapiPath: string): string {
  return openapiPath.replace(/\{([^}]+)\}/g, ':$1');
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

export function loadSpec(name: string, file: string): ApiSpec {
  const raw = parse(readFileSync(file, 'utf8')) as Json;
  const document = dereference(raw, raw) as Json;
  const operations = new Map<string, SpecOperation>();
  for (const [openapiPath, item] of Object.entries((document.paths as Json | undefined) ?? {})) {
    const pathItem = item as Json;
    const shared = (pathItem.parameters as ParameterObject[] | undefined) ?? [];
    for (const method of METHODS) {
      const operation = pathItem[method] as Json | undefined;
      if (!operation) continue;
      const parameters = [...shared, ...((operation.parameters as ParameterObject[] | undefined) ?? [])];
      const schema: FastifySchema = { querystring: parameterSchema(parameters, 'query') };
      const params = parameterSchema(parameters, 'path');
      if (params) schema.params = params;
      const body = (((operation.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
      if (body) schema.body = cleanSchema(body);
      const response = responseSchemas(operation.responses as Json | undefined);
      if (Object.keys(response).length > 0) schema.response = response;
      const path = toFastifyPath(openapiPath);
      const upper = method.toUpperCase();
      operations.set(`${upper} ${path}`, {
        spec: name,
        operationId: String(operation.operationId ?? `${upper} ${path}`),
        method: upper,
        path,
        schema,
        operation,
      });
    }
  }
  return { name, file, document: raw, operations };
}

/** The OpenAPI documents named in the config's `contracts:`, loaded once. */
export class SpecRegistry implements OperationLookup {
  readonly specs = new Map<string, ApiSpec>();

  static load(files: Record<string, string>, baseDir: string): SpecRegistry {
    const registry = new SpecRegistry();
    for (const [name, file] of Object.entries(files)) registry.specs.set(name, loadSpec(name, resolve(baseDir, file)));
    return registry;
  }

  get specNames(): readonly string[] {
    return [...this.specs.keys()];
  }

  operation(spec: string, method: string, path: string): SpecOperation | undefined {
    return this.specs.get(spec)?.operations.get(`${method} ${path}`);
  }

  /** The operation a route serves, from whichever spec describes it (the first, in `contracts:` order). */
  operationFor(method: string, path: string): SpecOperation | undefined {
    for (const spec of this.specs.values()) {
      const operation = spec.operations.get(`${method} ${path}`);
      if (operation) return operation;
    }
    return undefined;
  }
}
