// Keeps the OpenAPI contract honest: the specs parse, every operation is
// named, every error is problem+json, every schema compiles under the ajv that
// Fastify uses, every example validates against its schema and shows real demo
// data, and the generated TypeScript types are fresh.
//
//   npx node --import tsx --test test/contract/openapi-types.test.ts

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Ajv, ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { generateDataset } from '../../sim/data/seed.ts';
import type { Order } from '../../contracts/orders.ts';
import { CATALOGUE, computePrice, pricingSeconds } from '../../sim/mes/catalogue.ts';
import { absoluteRefs, makeAjv, SCHEMA_BASE } from '../helpers/openapi-schemas.ts';

type Json = Record<string, unknown>;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SPECS = { seller: 'openapi/seller-api.yaml', internal: 'openapi/internal-api.yaml' } as const;
type SpecName = keyof typeof SPECS;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
const PROBLEM_MEDIA_TYPE = 'application/problem+json';
const PROBLEM_REF = '#/components/schemas/Problem';
/**
 * Error responses that are deliberately not problem documents, as
 * `<operationId> <status>`: a failing readiness probe answers with the same
 * Readiness document as a passing one.
 */
const NOT_PROBLEM = new Set(['getReadiness 503']);
/** The seller whose key (demo-pro-key) the seller API's order examples use. */
const EXAMPLE_SELLER = 'slr_0002';
/** Request bodies the gateway validates (and so the only ones with JSON Schema to check). */
const JSON_MEDIA_TYPE = 'application/json';

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function loadSpec(name: SpecName): Json {
  const text = readFileSync(new URL(SPECS[name], new URL('../../', import.meta.url)), 'utf8');
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const problems = [...document.errors, ...document.warnings].map((e) => e.message);
  assert.deepEqual(problems, [], `${SPECS[name]} is not clean YAML`);
  const value: unknown = document.toJS();
  assert.ok(isObject(value), `${SPECS[name]} is not a YAML mapping`);
  return value;
}

const specs: Record<SpecName, Json> = { seller: loadSpec('seller'), internal: loadSpec('internal') };

/** Follows a local `#/...` reference. */
function resolvePointer(document: Json, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $ref is allowed, got ${ref}`);
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    assert.ok(isObject(node) && key in node, `unresolved $ref ${ref}`);
    node = node[key];
  }
  return node;
}

/** The object itself, or what its `$ref` points at (components may chain). */
function deref(document: Json, node: unknown): Json {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    assert.ok(hops < 16, 'reference chain too long');
    current = resolvePointer(document, current.$ref);
  }
  assert.ok(isObject(current), 'expected an object');
  return current;
}

interface OperationInfo {
  path: string;
  method: string;
  operationId: string | undefined;
  pathItem: Json;
  operation: Json;
}

function operationsOf(document: Json): OperationInfo[] {
  const out: OperationInfo[] = [];
  for (const [path, rawItem] of Object.entries((document.paths as Json | undefined) ?? {})) {
    const pathItem = deref(document, rawItem);
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!isObject(operation)) continue;
      out.push({ path, method, pathItem, operation, operationId: typeof operation.operationId === 'string' ? operation.operationId : undefined });
    }
  }
  return out;
}

function label(op: OperationInfo): string {
  return op.operationId ?? `${op.method.toUpperCase()} ${op.path}`;
}

// ---- ajv, configured like the gateway's (ajv 8, draft-07) but strict (test/helpers/openapi-schemas.ts) ----

const ajvs: Record<SpecName, Ajv> = { seller: makeAjv('seller', specs.seller), internal: makeAjv('internal', specs.internal) };

function validator(spec: SpecName, schema: unknown): ValidateFunction {
  return ajvs[spec].compile(absoluteRefs(spec, schema) as Json);
}

function check(spec: SpecName, schema: unknown, value: unknown, where: string): void {
  const validate = validator(spec, schema);
  if (!validate(value)) {
    assert.fail(`${SPECS[spec]}: ${where} does not match its schema: ${ajvs[spec].errorsText(validate.errors, { dataVar: 'example' })}`);
  }
}

// ---- walking examples ----

interface ExampleSite {
  where: string;
  schema: unknown;
  values: { name: string; value: unknown }[];
}

/** Examples of a parameter, header or media type object (`example` / `examples`). */
function examplesOf(document: Json, holder: Json, where: string): ExampleSite | undefined {
  const values: ExampleSite['values'] = [];
  if ('example' in holder) values.push({ name: 'example', value: holder.example });
  if (isObject(holder.examples)) {
    for (const [name, raw] of Object.entries(holder.examples)) {
      const example = deref(document, raw);
      assert.ok('value' in example, `${where}: example ${name} has no value`);
      values.push({ name: `examples.${name}`, value: example.value });
    }
  }
  if (values.length === 0) return undefined;
  assert.ok(holder.schema !== undefined, `${where} has examples but no schema`);
  return { where, schema: holder.schema, values };
}

function collectExampleSites(document: Json): ExampleSite[] {
  const sites: ExampleSite[] = [];
  const visitResponse = (raw: unknown, where: string) => {
    if (isObject(raw) && '$ref' in raw) return; // a component: visited below
    const response = deref(document, raw);
    for (const [name, header] of Object.entries((response.headers as Json | undefined) ?? {})) {
      if (isObject(header) && '$ref' in header) continue;
      const site = examplesOf(document, deref(document, header), `${where} header ${name}`);
      if (site) sites.push(site);
    }
    for (const [mediaType, media] of Object.entries((response.content as Json | undefined) ?? {})) {
      const site = examplesOf(document, deref(document, media), `${where} ${mediaType}`);
      if (site) sites.push(site);
    }
  };
  const visitParameter = (raw: unknown, where: string) => {
    if (isObject(raw) && '$ref' in raw) return;
    const parameter = deref(document, raw);
    const site = examplesOf(document, parameter, `${where} parameter ${String(parameter.name)}`);
    if (site) sites.push(site);
  };

  for (const op of operationsOf(document)) {
    for (const p of [...((op.pathItem.parameters as unknown[]) ?? []), ...((op.operation.parameters as unknown[]) ?? [])]) visitParameter(p, label(op));
    for (const [status, response] of Object.entries((op.operation.responses as Json | undefined) ?? {})) visitResponse(response, `${label(op)} ${status}`);
    const body = jsonRequestBody(document, op);
    if (body) {
      const site = examplesOf(document, body, `${label(op)} request body`);
      if (site) sites.push(site);
    }
  }
  const components = (document.components as Json | undefined) ?? {};
  for (const [name, p] of Object.entries((components.parameters as Json | undefined) ?? {})) visitParameter(p, `components.parameters.${name}`);
  for (const [name, r] of Object.entries((components.responses as Json | undefined) ?? {})) visitResponse(r, `components.responses.${name}`);
  for (const [name, h] of Object.entries((components.headers as Json | undefined) ?? {})) {
    const site = examplesOf(document, deref(document, h), `components.headers.${name}`);
    if (site) sites.push(site);
  }
  return sites;
}

/** The `application/json` media type of an operation's request body, if it has one. */
function jsonRequestBody(document: Json, op: OperationInfo): Json | undefined {
  if (op.operation.requestBody === undefined) return undefined;
  const content = (deref(document, op.operation.requestBody).content as Json | undefined) ?? {};
  const media = content[JSON_MEDIA_TYPE];
  return media === undefined ? undefined : deref(document, media);
}

/** Every schema node, with where it is: component schemas and the inline schemas of parameters, headers, media types and JSON request bodies. */
function collectSchemas(document: Json): { where: string; schema: Json }[] {
  const out: { where: string; schema: Json }[] = [];
  const walk = (node: unknown, where: string) => {
    if (!isObject(node)) return;
    out.push({ where, schema: node });
    for (const key of ['items', 'additionalProperties', 'not', 'propertyNames', 'contains', 'if', 'then', 'else']) walk(node[key], `${where}.${key}`);
    for (const key of ['oneOf', 'anyOf', 'allOf', 'prefixItems']) {
      const list = node[key];
      if (Array.isArray(list)) list.forEach((item, i) => walk(item, `${where}.${key}[${i}]`));
    }
    for (const key of ['properties', 'patternProperties', '$defs', 'definitions']) {
      const map = node[key];
      if (isObject(map)) for (const [name, child] of Object.entries(map)) walk(child, `${where}.${key}.${name}`);
    }
  };
  const components = (document.components as Json | undefined) ?? {};
  for (const [name, schema] of Object.entries((components.schemas as Json | undefined) ?? {})) walk(schema, `components.schemas.${name}`);
  const holders: { where: string; holder: unknown }[] = [];
  for (const [name, p] of Object.entries((components.parameters as Json | undefined) ?? {})) holders.push({ where: `components.parameters.${name}`, holder: p });
  for (const [name, h] of Object.entries((components.headers as Json | undefined) ?? {})) holders.push({ where: `components.headers.${name}`, holder: h });
  const responses: { where: string; response: unknown }[] = Object.entries((components.responses as Json | undefined) ?? {}).map(([name, r]) => ({ where: `components.responses.${name}`, response: r }));
  for (const op of operationsOf(document)) {
    for (const p of [...((op.pathItem.parameters as unknown[]) ?? []), ...((op.operation.parameters as unknown[]) ?? [])]) holders.push({ where: `${label(op)} parameter`, holder: p });
    for (const [status, r] of Object.entries((op.operation.responses as Json | undefined) ?? {})) responses.push({ where: `${label(op)} ${status}`, response: r });
    const body = jsonRequestBody(document, op);
    if (body) holders.push({ where: `${label(op)} request body`, holder: body });
  }
  for (const { where, response } of responses) {
    if (isObject(response) && '$ref' in response) continue;
    for (const [name, h] of Object.entries(((response as Json).headers as Json | undefined) ?? {})) holders.push({ where: `${where} header ${name}`, holder: h });
    for (const [type, m] of Object.entries(((response as Json).content as Json | undefined) ?? {})) holders.push({ where: `${where} ${type}`, holder: m });
  }
  for (const { where, holder } of holders) {
    if (isObject(holder) && !('$ref' in holder)) walk(holder.schema, `${where}.schema`);
  }
  return out;
}

// ---- the tests ----

describe('OpenAPI contract', () => {
  test('generated types are fresh (npm run openapi:types --check)', () => {
    const result = spawnSync(process.execPath, ['scripts/openapi-types.ts', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `openapi types check failed (run npm run openapi:types):\n${result.stdout}${result.stderr}`);
  });

  for (const name of Object.keys(SPECS) as SpecName[]) {
    describe(SPECS[name], () => {
      const document = specs[name];
      const operations = operationsOf(document);

      test('is OpenAPI 3.1.0 with a title and servers relative to the gateway', () => {
        assert.equal(document.openapi, '3.1.0');
        assert.ok(isObject(document.info) && typeof document.info.title === 'string');
        assert.deepEqual((document.servers as Json[]).map((s) => s.url), ['/']);
        assert.ok(operations.length > 0, 'no operations');
      });

      test('every operation has a unique operationId, a summary and tags', () => {
        const seen = new Set<string>();
        for (const op of operations) {
          assert.ok(op.operationId, `${op.method.toUpperCase()} ${op.path} has no operationId`);
          assert.ok(!seen.has(op.operationId), `operationId ${op.operationId} is used twice`);
          seen.add(op.operationId);
          assert.ok(typeof op.operation.summary === 'string' && op.operation.summary !== '', `${label(op)} has no summary`);
          assert.ok(Array.isArray(op.operation.tags) && op.operation.tags.length > 0, `${label(op)} has no tags`);
        }
      });

      test('every 4xx/5xx response is application/problem+json with the Problem schema', () => {
        let checked = 0;
        for (const op of operations) {
          for (const [status, raw] of Object.entries((op.operation.responses as Json | undefined) ?? {})) {
            assert.match(status, /^[1-5]\d\d$/, `${label(op)}: response ${status} is not a status code`);
            if (!/^[45]/.test(status) || NOT_PROBLEM.has(`${op.operationId} ${status}`)) continue;
            const response = deref(document, raw);
            const content = (response.content as Json | undefined) ?? {};
            assert.deepEqual(Object.keys(content), [PROBLEM_MEDIA_TYPE], `${label(op)} ${status} must be ${PROBLEM_MEDIA_TYPE} only`);
            const media = content[PROBLEM_MEDIA_TYPE] as Json;
            assert.deepEqual(media.schema, { $ref: PROBLEM_REF }, `${label(op)} ${status} must use ${PROBLEM_REF}`);
            // The examples show the status they are documented under.
            const site = examplesOf(document, media, `${label(op)} ${status}`);
            assert.ok(site, `${label(op)} ${status} has no example`);
            for (const { name: example, value } of site.values) {
              assert.equal((value as Json).status, Number(status), `${label(op)} ${status} ${example}: status`);
            }
            checked++;
          }
        }
        assert.ok(checked > 0);
      });

      test('every response documents X-Request-Id, and 503 problems Retry-After', () => {
        for (const op of operations) {
          for (const [status, raw] of Object.entries((op.operation.responses as Json | undefined) ?? {})) {
            const headers = (deref(document, raw).headers as Json | undefined) ?? {};
            assert.deepEqual(headers['X-Request-Id'], { $ref: '#/components/headers/X-Request-Id' }, `${label(op)} ${status}: X-Request-Id`);
            if (status === '503' && !NOT_PROBLEM.has(`${op.operationId} ${status}`)) {
              assert.deepEqual(headers['Retry-After'], { $ref: '#/components/headers/Retry-After' }, `${label(op)} ${status}: Retry-After`);
            }
          }
        }
      });

      test('schemas are plain JSON Schema that ajv 8 (draft-07, strict) compiles', () => {
        const components = (document.components as Json).schemas as Json;
        for (const { where, schema } of collectSchemas(document)) {
          for (const key of ['nullable', 'example', '$schema', '$id', '$dynamicRef', 'discriminator']) {
            assert.ok(!(key in schema), `${where}: \`${key}\` is not allowed in a schema (see openapi/README.md)`);
          }
          if (typeof schema.$ref === 'string') assert.match(schema.$ref, /^#\/components\/schemas\/[A-Za-z0-9_.-]+$/, `${where}: $ref`);
          // Objects we return are closed.
          if (schema.type === 'object' && !isObject(schema.additionalProperties)) {
            assert.equal(schema.additionalProperties, false, `${where}: additionalProperties: false`);
          }
        }
        for (const schemaName of Object.keys(components)) {
          const id = `${SCHEMA_BASE}${name}/schemas/${schemaName}`;
          let compiled: ValidateFunction | undefined;
          assert.doesNotThrow(() => {
            compiled = ajvs[name].getSchema(id);
          }, `components.schemas.${schemaName} does not compile`);
          assert.ok(compiled, `components.schemas.${schemaName} did not compile`);
        }
      });

      test('schemas are not recursive', () => {
        const components = (document.components as Json).schemas as Json;
        const refsOf = (node: unknown, acc: Set<string>): Set<string> => {
          if (Array.isArray(node)) node.forEach((item) => refsOf(item, acc));
          else if (isObject(node)) {
            for (const [key, value] of Object.entries(node)) {
              if (key === '$ref' && typeof value === 'string') acc.add(value.replace('#/components/schemas/', ''));
              else refsOf(value, acc);
            }
          }
          return acc;
        };
        const visit = (name: string, stack: string[]) => {
          assert.ok(!stack.includes(name), `recursive schema: ${[...stack, name].join(' → ')}`);
          for (const next of refsOf(components[name], new Set())) visit(next, [...stack, name]);
        };
        for (const name of Object.keys(components)) visit(name, []);
      });

      test('every example validates against its schema', () => {
        const sites = collectExampleSites(document);
        assert.ok(sites.length > 0, 'no examples');
        for (const site of sites) {
          for (const { name: example, value } of site.values) check(name, site.schema, value, `${site.where} ${example}`);
        }
        // `examples` inside schemas too.
        for (const { where, schema } of collectSchemas(document)) {
          if (!Array.isArray(schema.examples)) continue;
          schema.examples.forEach((value, i) => check(name, schema, value, `${where}.examples[${i}]`));
        }
      });
    });
  }

  test('schemas shared by both specs are identical', () => {
    const seller = (specs.seller.components as Json).schemas as Json;
    const internal = (specs.internal.components as Json).schemas as Json;
    const shared = Object.keys(seller).filter((name) => name in internal);
    for (const name of ['OrderStatus', 'Material', 'Finish', 'Problem', 'ProblemFieldError']) assert.ok(shared.includes(name), `${name} is in both specs`);
    for (const name of shared) assert.deepEqual(internal[name], seller[name], `components.schemas.${name} differs between the specs`);
    const sellerHeaders = (specs.seller.components as Json).headers as Json;
    const internalHeaders = (specs.internal.components as Json).headers as Json;
    for (const name of ['X-Request-Id', 'Retry-After']) assert.deepEqual(internalHeaders[name], sellerHeaders[name], `components.headers.${name} differs`);
  });

  describe('examples show the seeded demo data', () => {
    const dataset = generateDataset();
    const byId = new Map(dataset.orders.map((o) => [o.id, o]));
    const sellerNames = new Map(dataset.sellers.map((s) => [s.id, s.name]));
    const cursorOf = (t: string, i: string) => Buffer.from(JSON.stringify({ t, i })).toString('base64url');
    const sellerView = (order: Order) => {
      const { seller_id: _seller, operator_id: _operator, ...rest } = order;
      return rest;
    };
    const mediaExamples = (spec: SpecName, operationId: string, status: string) => {
      const op = operationsOf(specs[spec]).find((o) => o.operationId === operationId);
      assert.ok(op, `${operationId} not found`);
      const media = (deref(specs[spec], (op.operation.responses as Json)[status]).content as Json)['application/json'] as Json;
      const site = examplesOf(specs[spec], media, `${operationId} ${status}`);
      assert.ok(site, `${operationId} ${status} has no examples`);
      return site.values;
    };
    /** Newest first, and `next_cursor` is the cursor of the last item. */
    const checkPage = <T extends { created_at: string }>(where: string, page: { items: T[]; next_cursor: string | null }, idOf: (item: T) => string) => {
      const keys = page.items.map((item) => ({ t: item.created_at, i: idOf(item) }));
      for (let n = 1; n < keys.length; n++) {
        const a = keys[n - 1] as { t: string; i: string };
        const b = keys[n] as { t: string; i: string };
        assert.ok(a.t > b.t || (a.t === b.t && a.i > b.i), `${where}: items[${n}] is not older than items[${n - 1}]`);
      }
      const last = keys.at(-1);
      if (page.next_cursor !== null) {
        assert.ok(last, `${where}: next_cursor on an empty page`);
        assert.equal(page.next_cursor, cursorOf(last.t, last.i), `${where}: next_cursor is not the cursor of the last item`);
      }
    };

    test(`seller order examples are orders of ${EXAMPLE_SELLER} (demo-pro-key)`, () => {
      const assertReal = (where: string, example: unknown) => {
        const id = (example as { id: string }).id;
        const order = byId.get(id);
        assert.ok(order, `${where}: ${id} is not in the seeded dataset`);
        assert.equal(order.seller_id, EXAMPLE_SELLER, `${where}: ${id} belongs to ${order.seller_id}`);
        assert.deepEqual(example, sellerView(order), `${where}: ${id} differs from the seeded order`);
      };
      for (const { name, value } of mediaExamples('seller', 'getOrder', '200')) assertReal(`getOrder ${name}`, value);
      for (const { name, value } of mediaExamples('seller', 'listOrders', '200')) {
        const page = value as { items: { id: string; created_at: string }[]; next_cursor: string | null };
        page.items.forEach((item, i) => assertReal(`listOrders ${name} items[${i}]`, item));
        checkPage(`listOrders ${name}`, page, (item) => item.id);
      }
      const idParameter = deref(specs.seller, ((specs.seller.components as Json).parameters as Json).OrderId);
      const order = byId.get(idParameter.example as string);
      assert.equal(order?.seller_id, EXAMPLE_SELLER, 'the getOrder path example must be an order of the demo-pro-key seller, for Try it out');
    });

    test('dashboard examples are seeded orders', () => {
      for (const { name, value } of mediaExamples('internal', 'listDashboardOrders', '200')) {
        const page = value as { items: { order_id: string; created_at: string }[]; next_cursor: string | null };
        for (const [i, row] of page.items.entries()) {
          const order = byId.get(row.order_id);
          assert.ok(order, `listDashboardOrders ${name} items[${i}]: ${row.order_id} is not in the seeded dataset`);
          assert.deepEqual(
            row,
            {
              order_id: order.id,
              seller_id: order.seller_id,
              seller_name: sellerNames.get(order.seller_id),
              status: order.status,
              created_at: order.created_at,
              updated_at: order.updated_at,
              model_id: order.model.id,
              material: order.parameters.material,
              finish: order.parameters.finish,
              operator_id: order.operator_id,
            },
            `listDashboardOrders ${name} items[${i}] differs from the seeded order`,
          );
        }
        checkPage(`listDashboardOrders ${name}`, page, (item) => item.order_id);
      }
    });

    test('the catalogue example is the MES simulator catalogue', () => {
      const [example] = mediaExamples('seller', 'listMaterials', '200');
      assert.deepEqual(example?.value, JSON.parse(JSON.stringify(CATALOGUE)));
    });

    test('the write examples tell one story: upload → quote → order, priced as the MES prices', () => {
      type Params = Order['parameters'];
      interface Model {
        id: string;
        filename: string;
        format: string;
        sha256: string;
        polygons: number;
      }
      interface Quote {
        id: string;
        status: string;
        model_id: string;
        parameters: Params;
        price: Order['price'];
        created_at: string;
        updated_at: string;
      }
      const named = (values: { name: string; value: unknown }[], name: string): unknown => {
        const found = values.find((v) => v.name === `examples.${name}`);
        assert.ok(found, `no example ${name}`);
        return found.value;
      };
      const requestExamples = (operationId: string) => {
        const op = operationsOf(specs.seller).find((o) => o.operationId === operationId);
        assert.ok(op, `${operationId} not found`);
        const body = jsonRequestBody(specs.seller, op);
        const site = body && examplesOf(specs.seller, body, `${operationId} request body`);
        assert.ok(site, `${operationId} has no request body examples`);
        return site.values;
      };
      const component = (kind: string, name: string) => deref(specs.seller, ((specs.seller.components as Json)[kind] as Json)[name]);

      // The uploaded model, new (not a seeded one).
      const model = named(mediaExamples('seller', 'uploadModel', '201'), 'binaryStl') as Model;
      assert.ok(![...byId.values()].some((o) => o.model.id === model.id), `${model.id} is a seeded model, not a new upload`);

      // Every quote is of that model; a ready price is what the MES computes for its polygons.
      const quotes = [
        ...mediaExamples('seller', 'createQuote', '200'),
        ...mediaExamples('seller', 'createQuote', '202'),
        ...mediaExamples('seller', 'getQuote', '200'),
      ].map((v) => v.value as Quote);
      for (const quote of quotes) {
        assert.equal(quote.model_id, model.id, `quote ${quote.id}: model`);
        if (quote.status === 'ready') assert.deepEqual(quote.price, computePrice(quote.parameters, model.polygons), `quote ${quote.id}: price`);
        if (quote.status !== 'pending') {
          const took = (Date.parse(quote.updated_at) - Date.parse(quote.created_at)) / 1000;
          const known = quote.status === 'ready' && took === 0; // answered at once from a known price
          if (!known) assert.ok(took >= pricingSeconds(model.polygons), `quote ${quote.id}: settled after ${took} s, the MES takes ${pricingSeconds(model.polygons)} s`);
        }
      }
      const pending = named(mediaExamples('seller', 'createQuote', '202'), 'pending') as Quote;
      const ready = named(mediaExamples('seller', 'getQuote', '200'), 'ready') as Quote;
      assert.equal(ready.id, pending.id, 'getQuote ready is the pending quote of createQuote, priced');
      assert.deepEqual(named(requestExamples('createQuote'), 'signet'), { model_id: pending.model_id, parameters: pending.parameters }, 'createQuote request');
      assert.equal(component('headers', 'QuoteLocation').example, `/v1/quotes/${pending.id}`, 'QuoteLocation example');
      assert.equal(component('parameters', 'QuoteId').example, pending.id, 'QuoteId example (Try it out)');

      // Orders: from the ready quote, and from the model and parameters.
      const requests = requestExamples('createOrder');
      const accepted = mediaExamples('seller', 'createOrder', '202');
      assert.deepEqual(
        requests.map((r) => r.name),
        accepted.map((a) => a.name),
        'each createOrder request example has its 202 example, by name',
      );
      for (const { name, value } of requests) {
        const request = value as { quote_id?: string; model_id?: string; parameters?: Params; customer: unknown; shipping: unknown };
        const order = named(accepted, name.replace('examples.', '')) as Order;
        const where = `createOrder ${name}`;
        assert.ok(!byId.has(order.id), `${where}: ${order.id} is a seeded order, not a new one`);
        assert.equal(order.status, 'SUBMITTED', `${where}: status`);
        assert.equal(order.created_at, order.updated_at, `${where}: just created`);
        assert.deepEqual([order.customer, order.shipping], [request.customer, request.shipping], `${where}: customer and shipping are the request's`);
        assert.deepEqual(order.model, { id: model.id, filename: model.filename, format: model.format, sha256: model.sha256, polygons: model.polygons }, `${where}: model`);
        if (request.quote_id !== undefined) {
          assert.ok(request.model_id === undefined && request.parameters === undefined, `${where}: quote_id alone`);
          assert.equal(request.quote_id, ready.id, `${where}: the ready quote`);
          assert.deepEqual([order.parameters, order.price], [ready.parameters, ready.price], `${where}: parameters and price of the quote`);
          assert.equal(component('headers', 'OrderLocation').example, `/v1/orders/${order.id}`, 'OrderLocation example');
        } else {
          assert.equal(request.model_id, model.id, `${where}: model_id`);
          assert.deepEqual([order.parameters, order.price], [request.parameters, null], `${where}: parameters of the request, not priced yet`);
        }
      }

      // Cancelling: the example order is seeded, of the demo seller, and cancellable; the refusal names a seeded order past it.
      const NOT_CANCELLABLE = ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED', 'CLOSED', 'CANCELLED', 'REJECTED'];
      const cancel = named(mediaExamples('seller', 'cancelOrder', '202'), 'requested') as { id: string; status: string };
      const cancelled = byId.get(cancel.id);
      assert.ok(cancelled && cancelled.seller_id === EXAMPLE_SELLER, `cancelOrder 202: ${cancel.id} is an order of ${EXAMPLE_SELLER}`);
      assert.equal(cancel.status, cancelled.status, 'cancelOrder 202: the seeded status');
      assert.ok(!NOT_CANCELLABLE.includes(cancelled.status), 'cancelOrder 202: a cancellable order');
      const refusal = deref(specs.seller, ((component('responses', 'OrderNotCancellable').content as Json)['application/problem+json'] as Json).examples as Json);
      for (const raw of Object.values(refusal)) {
        const value = deref(specs.seller, raw).value as { instance: string; detail: string };
        const id = /^\/v1\/orders\/([^/]+)\/cancel$/.exec(value.instance)?.[1] ?? '';
        const order = byId.get(id);
        assert.ok(order && order.seller_id === EXAMPLE_SELLER, `OrderNotCancellable: ${id} is an order of ${EXAMPLE_SELLER}`);
        assert.ok(NOT_CANCELLABLE.includes(order.status), `OrderNotCancellable: ${id} is ${order.status}, which can be cancelled`);
        assert.equal(value.detail, `The order is ${order.status}`, 'OrderNotCancellable: detail');
      }
    });
  });
});
