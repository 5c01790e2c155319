// Keeps the OpenAPI contract and the gateway in step: what the specs promise
// about limits is what gateway.config.yml enforces. The `x-ratelimit.cost` of
// an operation is the cost of the `quota` step of the pipeline serving it;
// every operation behind a quota documents it, its 429 and the RateLimit
// headers; an operation requires `Idempotency-Key` exactly when its
// pipeline has the `idempotency` policy; the plans table of the seller API
// lists every plan with its numbers; the demo keys are the gateway's; limit
// examples are what the gateway answers; problem examples use the codes of
// the error catalogue.
//
//   npx node --import tsx --test test/contract/openapi-gateway.test.ts

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import type { PlanConfig, PolicyStepConfig } from '../../platform/pipeline/config.ts';
import { routesOf } from '../../gateway/config/validate.ts';
import { DEMO_KEYS, DEMO_UPLOAD } from '../../entries/demo.ts';
import { PROBLEMS, problemType, type ProblemCode } from '../../platform/errors/catalogue.ts';
import { compileCondition } from '../../platform/pipeline/conditions.ts';
import { POLICIES } from '../../policies/index.ts';
import { limitsFor } from '../../platform/pipeline/plan-limits.ts';
import { rateLimitHeader, rateLimitPolicyHeader, type WindowState } from '../../policies/quota/quota-service.ts';

type Json = Record<string, unknown>;

const CONFIG_FILE = fileURLToPath(new URL('../../gateway.config.yml', import.meta.url));
const SPECS = { seller: 'openapi/seller-api.yaml', internal: 'openapi/internal-api.yaml' } as const;
type SpecName = keyof typeof SPECS;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;
/** The seller whose key (demo-pro-key) the seller API's examples use. */
const EXAMPLE_SELLER = 'slr_0002';
/** The section of the seller API's info.description with the plans table. */
const LIMITS_SECTION = '## Limits and plans';
const TOO_MANY_REQUESTS_HEADERS = ['Retry-After', 'RateLimit', 'RateLimit-Policy'];
const RATELIMIT_HEADERS = ['RateLimit', 'RateLimit-Policy'];

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function loadSpec(name: SpecName): Json {
  const value: unknown = parse(readFileSync(new URL(`../../${SPECS[name]}`, import.meta.url), 'utf8'));
  assert.ok(isObject(value), `${SPECS[name]} is not a YAML mapping`);
  return value;
}

const specs: Record<SpecName, Json> = { seller: loadSpec('seller'), internal: loadSpec('internal') };

/** The shipped gateway.config.yml, validated like at start-up (defaults filled in). */
const { config, specs: specRegistry } = parseConfig(readFileSync(CONFIG_FILE, 'utf8'), CONFIG_FILE, POLICIES, { JWT_SECRET: 'x'.repeat(40) });

/** The object itself, or what its local `$ref` points at (components may chain). */
function deref(document: Json, node: unknown): Json {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    assert.ok(hops < 16, 'reference chain too long');
    const ref = current.$ref;
    assert.ok(ref.startsWith('#/'), `only local $ref is allowed, got ${ref}`);
    current = ref
      .slice(2)
      .split('/')
      .reduce<unknown>((node, raw) => (isObject(node) ? node[raw.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), document);
    assert.ok(current !== undefined, `unresolved $ref ${ref}`);
  }
  assert.ok(isObject(current), 'expected an object');
  return current;
}

interface OperationInfo {
  spec: SpecName;
  /** OpenAPI form: `/v1/orders/{id}`. */
  path: string;
  method: string;
  operationId: string;
  pathItem: Json;
  operation: Json;
}

function operationsOf(spec: SpecName): OperationInfo[] {
  const document = specs[spec];
  const out: OperationInfo[] = [];
  for (const [path, rawItem] of Object.entries((document.paths as Json | undefined) ?? {})) {
    const pathItem = deref(document, rawItem);
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!isObject(operation)) continue;
      out.push({ spec, path, method: method.toUpperCase(), pathItem, operation, operationId: String(operation.operationId ?? `${method.toUpperCase()} ${path}`) });
    }
  }
  return out;
}

const allOperations = [...operationsOf('seller'), ...operationsOf('internal')];

/** `/v1/orders/{id}` → `/v1/orders/:id`, the form of apiEndpoints paths. */
function configPath(openapiPath: string): string {
  return openapiPath.replace(/\{([^}]+)\}/g, ':$1');
}

/** A concrete request path for the operation, path parameters filled with their examples. */
function samplePath(op: OperationInfo): string {
  const parameters = [...((op.pathItem.parameters as unknown[]) ?? []), ...((op.operation.parameters as unknown[]) ?? [])].map((p) => deref(specs[op.spec], p));
  return op.path.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const parameter = parameters.find((p) => p.in === 'path' && p.name === name);
    assert.ok(parameter, `${op.operationId}: path parameter ${name} is not documented`);
    assert.ok(parameter.example !== undefined, `${op.operationId}: path parameter ${name} has no example`);
    return encodeURIComponent(String(parameter.example));
  });
}

/** Pipelines by the routes they serve, `GET /v1/orders/:id` → `sellerReads`. */
const pipelineByRoute = new Map<string, string>();
for (const name of Object.keys(config.pipelines)) for (const route of routesOf(config, name, specRegistry)) pipelineByRoute.set(`${route.method} ${route.path}`, name);

function pipelineOf(op: OperationInfo): string | undefined {
  return pipelineByRoute.get(`${op.method} ${configPath(op.path)}`);
}

/** The quota policy's default cost, for a step that gives none. */
const DEFAULT_COST = (((POLICIES.get('quota')?.actionSchema.properties as Json | undefined)?.cost as Json | undefined)?.default as number | undefined) ?? 1;

/**
 * The `quota` cost the gateway charges for one request to the operation, as
 * its pipeline's `quota` policy picks the step (first whose condition holds);
 * undefined when the pipeline has no `quota` policy.
 */
function quotaCost(op: OperationInfo): number | undefined {
  const pipeline = pipelineOf(op);
  assert.ok(pipeline, `${op.operationId}: no pipeline in gateway.config.yml serves ${op.method} ${configPath(op.path)}`);
  const entry = config.pipelines[pipeline]?.policies.find((p) => 'quota' in p);
  if (!entry) return undefined;
  const raw = entry.quota as PolicyStepConfig | PolicyStepConfig[] | null | undefined;
  const steps = Array.isArray(raw) ? raw : [raw ?? {}];
  const request = { method: op.method, path: samplePath(op), headers: {} };
  const step = steps.find((s) => compileCondition(s.condition)(request));
  assert.ok(step, `${op.operationId}: no step of the quota policy of pipeline ${pipeline} applies to ${op.method} ${request.path}`);
  const cost = (step.action as Json | undefined)?.cost;
  return typeof cost === 'number' ? cost : DEFAULT_COST;
}

/** The rows of the first markdown table after `heading` in `markdown`, keyed by the header cells. */
function markdownTable(markdown: string, heading: string): Record<string, string>[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no "${heading}" section`);
  const lines = markdown.slice(start + heading.length + 2).split('\n');
  const first = lines.findIndex((line) => line.trim().startsWith('|'));
  assert.ok(first >= 0, `no table in "${heading}"`);
  const next = lines.findIndex((line) => line.startsWith('## '));
  assert.ok(next < 0 || first < next, `no table in "${heading}" (the next section starts first)`);
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.trim().startsWith('|')) break;
    rows.push(line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim()));
  }
  const [header, separator, ...body] = rows;
  assert.ok(header && separator && separator.every((cell) => /^:?-+:?$/.test(cell)), `"${heading}": malformed table`);
  return body.map((cells) => {
    assert.equal(cells.length, header.length, `"${heading}": row "${cells.join(' | ')}" has ${cells.length} cells, not ${header.length}`);
    return Object.fromEntries(header.map((name, i) => [name.toLowerCase(), cells[i] as string]));
  });
}

/** The numbers in a table cell, `2,000,000 units` → [2000000], `10 units per 10 s` → [10, 10]. */
function numbersIn(cell: string): number[] {
  return [...cell.matchAll(/\d[\d,]*(?:\.\d+)?/g)].map((m) => Number(m[0].replace(/,/g, '')));
}

const BYTE_UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** `20 MiB` → 20971520. */
function bytesIn(cell: string): number {
  const match = /^([\d,]+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)$/.exec(cell.replace(/`/g, ''));
  assert.ok(match, `"${cell}" is not a size like "20 MiB"`);
  return Number((match[1] as string).replace(/,/g, '')) * (BYTE_UNITS[match[2] as string] as number);
}

function mediaExample(op: OperationInfo, status: string, mediaType: string, name?: string): unknown {
  const response = deref(specs[op.spec], (op.operation.responses as Json)[status]);
  const media = (response.content as Json | undefined)?.[mediaType];
  assert.ok(isObject(media), `${op.operationId} ${status} has no ${mediaType}`);
  const examples = (media.examples as Json | undefined) ?? {};
  const key = name ?? Object.keys(examples)[0];
  assert.ok(key && key in examples, `${op.operationId} ${status} has no example ${name ?? ''}`);
  return deref(specs[op.spec], examples[key]).value;
}

function headerExample(name: string): unknown {
  const header = deref(specs.seller, ((specs.seller.components as Json).headers as Json)[name]);
  return header.example;
}

describe('OpenAPI contract and gateway agree', () => {
  test('every seller operation is served by a pipeline of gateway.config.yml', () => {
    for (const op of operationsOf('seller')) {
      assert.ok(pipelineOf(op), `${op.operationId}: no pipeline in gateway.config.yml serves ${op.method} ${configPath(op.path)}`);
    }
  });

  test('x-ratelimit.cost is the cost of the quota step of the pipeline serving the operation', () => {
    let checked = 0;
    for (const op of allOperations) {
      const extension = op.operation['x-ratelimit'];
      if (extension === undefined) continue;
      assert.ok(isObject(extension), `${op.operationId}: x-ratelimit must be an object`);
      assert.deepEqual(Object.keys(extension), ['cost'], `${op.operationId}: x-ratelimit has only cost`);
      assert.ok(Number.isInteger(extension.cost) && (extension.cost as number) >= 1, `${op.operationId}: x-ratelimit.cost must be a positive integer`);
      const cost = quotaCost(op);
      assert.ok(cost !== undefined, `${op.operationId} has x-ratelimit but its pipeline ${pipelineOf(op)} has no quota policy`);
      assert.equal(extension.cost, cost, `${op.operationId}: x-ratelimit.cost is ${String(extension.cost)}, its pipeline ${pipelineOf(op)} charges ${cost}`);
      checked++;
    }
    assert.ok(checked > 0, 'no operation has x-ratelimit');
  });

  test('every operation behind a quota has x-ratelimit, a 429 and the RateLimit headers', () => {
    let checked = 0;
    for (const op of allOperations) {
      if (!pipelineOf(op) || quotaCost(op) === undefined) continue;
      const document = specs[op.spec];
      assert.ok(op.operation['x-ratelimit'] !== undefined, `${op.operationId}: its pipeline ${pipelineOf(op)} has a quota, so it needs x-ratelimit`);
      const responses = (op.operation.responses as Json | undefined) ?? {};
      assert.ok('429' in responses, `${op.operationId}: its pipeline ${pipelineOf(op)} has a quota, so it needs a 429 response`);
      const headers = (deref(document, responses['429']).headers as Json | undefined) ?? {};
      for (const name of TOO_MANY_REQUESTS_HEADERS) assert.ok(name in headers, `${op.operationId} 429: header ${name}`);
      for (const [status, raw] of Object.entries(responses)) {
        if (!/^2\d\d$/.test(status)) continue;
        const okHeaders = (deref(document, raw).headers as Json | undefined) ?? {};
        for (const name of RATELIMIT_HEADERS) {
          assert.deepEqual(okHeaders[name], { $ref: `#/components/headers/${name}` }, `${op.operationId} ${status}: header ${name}`);
        }
      }
      checked++;
    }
    assert.ok(checked > 0, 'no operation is behind a quota');
  });

  test('an operation requires Idempotency-Key exactly when its pipeline has the idempotency policy, and documents its answers', () => {
    let checked = 0;
    for (const op of allOperations) {
      const document = specs[op.spec];
      const parameters = [...((op.pathItem.parameters as unknown[]) ?? []), ...((op.operation.parameters as unknown[]) ?? [])].map((p) => deref(document, p));
      const key = parameters.find((p) => p.in === 'header' && String(p.name).toLowerCase() === 'idempotency-key');
      const pipeline = pipelineOf(op);
      const hasPolicy = pipeline !== undefined && (config.pipelines[pipeline]?.policies.some((p) => 'idempotency' in p) ?? false);
      assert.equal(key !== undefined, hasPolicy, `${op.operationId}: Idempotency-Key documented (${key !== undefined}) but idempotency policy in pipeline ${String(pipeline)} (${hasPolicy})`);
      if (!key) continue;
      assert.equal(key.required, true, `${op.operationId}: Idempotency-Key is required`);
      const codes = (status: string): unknown[] => {
        const response = (op.operation.responses as Json)[status];
        assert.ok(response, `${op.operationId}: no ${status} response`);
        const media = (deref(document, response).content as Json)['application/problem+json'] as Json;
        return Object.values((media.examples as Json | undefined) ?? {}).map((e) => (deref(document, e).value as Json).code);
      };
      assert.ok(codes('400').includes('FACET_ERR_IDEMPOTENCY_KEY_MISSING'), `${op.operationId} 400: an example of FACET_ERR_IDEMPOTENCY_KEY_MISSING`);
      assert.ok(codes('409').includes('FACET_ERR_IDEMPOTENCY_IN_FLIGHT'), `${op.operationId} 409: an example of FACET_ERR_IDEMPOTENCY_IN_FLIGHT`);
      assert.ok(codes('422').includes('FACET_ERR_IDEMPOTENCY_KEY_REUSED'), `${op.operationId} 422: an example of FACET_ERR_IDEMPOTENCY_KEY_REUSED`);
      const inFlight = deref(document, (op.operation.responses as Json)['409']);
      assert.ok('Retry-After' in ((inFlight.headers as Json | undefined) ?? {}), `${op.operationId} 409: Retry-After`);
      checked++;
    }
    assert.ok(checked > 0, 'no operation takes an Idempotency-Key');
  });

  test('the plans table of the seller API lists every plan of gateway.config.yml with its numbers', () => {
    const description = String((specs.seller.info as Json).description);
    const rows = markdownTable(description, LIMITS_SECTION);
    assert.deepEqual(rows.map((row) => row.plan).sort(), Object.keys(config.plans).sort(), 'the table lists exactly the plans of gateway.config.yml');
    for (const row of rows) {
      const plan = config.plans[row.plan as string] as PlanConfig;
      const where = `${LIMITS_SECTION}, plan ${String(row.plan)}`;
      for (const column of ['rate', 'burst', 'daily quota', 'concurrent price jobs', 'upload cap']) assert.ok(column in row, `${where}: no "${column}" column`);
      assert.deepEqual(numbersIn(row.rate as string), [plan.rate.perSecond], `${where}: rate`);
      assert.deepEqual(numbersIn(row.burst as string), plan.rate.burst > 0 ? [plan.rate.burst, plan.rate.burstWindowSec] : [], `${where}: burst (units, window in seconds)`);
      assert.deepEqual(numbersIn(row['daily quota'] as string), [plan.dailyQuota], `${where}: daily quota`);
      assert.deepEqual(numbersIn(row['concurrent price jobs'] as string), [plan.concurrentPriceJobs], `${where}: concurrent price jobs`);
      assert.equal(bytesIn(row['upload cap'] as string), plan.uploadMaxBytes, `${where}: upload cap`);
    }
  });

  test('the demo key table lists the demo keys of the gateway, with their sellers and plans', () => {
    const description = String((specs.seller.info as Json).description);
    const rows = markdownTable(description, '## Authentication');
    const unquote = (cell: string | undefined) => /^`([^`]+)`/.exec(cell ?? '')?.[1] ?? cell;
    const documented = rows.map((row) => ({ key: unquote(row.key), seller: unquote(row.seller), plan: row.plan }));
    assert.deepEqual(documented, DEMO_KEYS.map((k) => ({ ...k })), 'demo keys in ## Authentication');
    for (const { seller, plan } of DEMO_KEYS) {
      assert.equal(config.consumers.find((c) => c.id === seller)?.plan, plan, `gateway.config.yml: ${seller} is on plan ${plan}`);
    }
    const scheme = String((((specs.seller.components as Json).securitySchemes as Json).ApiKeyAuth as Json).description);
    for (const { key } of DEMO_KEYS) assert.ok(scheme.includes(`\`${key}\``), `the ApiKeyAuth description names ${key}`);
  });

  test('the demo records npm start seeds are the write examples’ upload and ready quote (Try it out)', () => {
    const paths = specs.seller.paths as Record<string, Json>;
    const upload = ((((((paths['/v1/models'] as Json).post as Json).responses as Json)['201'] as Json).content as Json)['application/json'] as Json).examples as Record<string, Json>;
    const uploaded = upload.binaryStl!.value as Json;
    const { created_at: _created, ...model } = uploaded;
    assert.deepEqual(model, { ...DEMO_UPLOAD.model });
    const quoteExamples = ((((((paths['/v1/quotes/{id}'] as Json).get as Json).responses as Json)['200'] as Json).content as Json)['application/json'] as Json).examples as Record<string, Json>;
    const ready = quoteExamples.ready!.value as Json;
    assert.deepEqual({ id: ready.id, model_id: ready.model_id, parameters: ready.parameters, price: ready.price }, { id: DEMO_UPLOAD.quote.id, model_id: DEMO_UPLOAD.model.id, parameters: { ...DEMO_UPLOAD.quote.parameters }, price: { ...DEMO_UPLOAD.quote.price } });
    assert.equal(DEMO_KEYS.find((k) => k.key === 'demo-pro-key')?.seller, DEMO_UPLOAD.seller);
  });

  test(`the usage and RateLimit examples are what the gateway answers ${EXAMPLE_SELLER} (demo-pro-key)`, () => {
    const consumer = config.consumers.find((c) => c.id === EXAMPLE_SELLER);
    assert.ok(consumer, `${EXAMPLE_SELLER} is a consumer of gateway.config.yml`);
    const limits = limitsFor(config, consumer.id, consumer.plan);
    const getUsage = operationsOf('seller').find((op) => op.operationId === 'getUsage');
    assert.ok(getUsage, 'getUsage');
    const usage = mediaExample(getUsage, '200', 'application/json') as {
      seller_id: string;
      plan: string;
      windows: { name: WindowState['name']; limit: number; window_seconds: number; used: number; remaining: number; reset_seconds: number }[];
      concurrent_price_jobs: { limit: number };
      upload_max_bytes: number;
    };
    assert.equal(usage.seller_id, consumer.id);
    assert.equal(usage.plan, consumer.plan);
    const expectedWindows = [
      { name: 'rate', limit: limits.rate.perSecond, window_seconds: 1 },
      { name: 'burst', limit: limits.rate.burst, window_seconds: limits.rate.burstWindowSec },
      { name: 'daily', limit: limits.dailyQuota, window_seconds: 86_400 },
    ].filter((w) => w.limit > 0);
    assert.deepEqual(
      usage.windows.map(({ name, limit, window_seconds }) => ({ name, limit, window_seconds })),
      expectedWindows,
      'getUsage example: the windows of the plan',
    );
    for (const w of usage.windows) {
      assert.equal(w.used + w.remaining, w.limit, `getUsage example: ${w.name}: used + remaining = limit`);
      assert.ok(w.reset_seconds <= w.window_seconds, `getUsage example: ${w.name}: reset_seconds <= window_seconds`);
    }
    assert.deepEqual(usage.concurrent_price_jobs, { limit: limits.concurrentPriceJobs });
    assert.equal(usage.upload_max_bytes, limits.uploadMaxBytes);

    // The header examples are the headers of that same answer.
    assert.equal(headerExample('RateLimit-Policy'), rateLimitPolicyHeader(limits), 'RateLimit-Policy example');
    const states: WindowState[] = usage.windows
      .filter((w) => w.name !== 'burst')
      .map((w) => ({ name: w.name, limit: w.limit, windowSec: w.window_seconds, remaining: w.remaining, resetSec: w.reset_seconds }));
    assert.equal(headerExample('RateLimit'), rateLimitHeader(states), 'RateLimit example (rate and daily of the getUsage example)');
    const description = String((specs.seller.info as Json).description);
    assert.ok(description.includes(`RateLimit-Policy: ${rateLimitPolicyHeader(limits)}\n`), `${LIMITS_SECTION} shows the RateLimit-Policy example`);
    assert.ok(description.includes(`RateLimit: ${rateLimitHeader(states)}\n`), `${LIMITS_SECTION} shows the RateLimit example`);
  });

  test('quota-exceeded examples quote the limits of the plan they name', () => {
    const tooMany = deref(specs.seller, ((specs.seller.components as Json).responses as Json).TooManyRequests);
    const examples = ((tooMany.content as Json)['application/problem+json'] as Json).examples as Json;
    let checked = 0;
    for (const [name, raw] of Object.entries(examples)) {
      const value = deref(specs.seller, raw).value as Json;
      if (value.code !== 'FACET_ERR_QUOTA_EXCEEDED') continue;
      const detail = String(value.detail);
      const rate = /^Plan (\S+) allows (\d+) units per second \(burst (\d+)\)$/.exec(detail);
      const daily = /^The daily quota of plan (\S+) is used up$/.exec(detail);
      assert.ok(rate ?? daily, `TooManyRequests ${name}: detail "${detail}" is not one the quota policy writes`);
      const plan = config.plans[(rate ?? daily)?.[1] as string];
      assert.ok(plan, `TooManyRequests ${name}: no plan ${(rate ?? daily)?.[1]}`);
      if (rate) assert.deepEqual([Number(rate[2]), Number(rate[3])], [plan.rate.perSecond, plan.rate.burst], `TooManyRequests ${name}: limits of the plan`);
      checked++;
    }
    assert.ok(checked > 0, 'TooManyRequests has no FACET_ERR_QUOTA_EXCEEDED example');
  });

  test('problem examples use the codes, titles, statuses and types of the error catalogue', () => {
    for (const name of Object.keys(SPECS) as SpecName[]) {
      // Component responses, and responses defined inline in an operation.
      const responses: Json = { ...(((specs[name].components as Json).responses as Json | undefined) ?? {}) };
      for (const op of operationsOf(name)) {
        for (const [status, raw] of Object.entries((op.operation.responses as Json | undefined) ?? {})) {
          if (!(isObject(raw) && '$ref' in raw)) responses[`${op.operationId} ${status}`] = raw;
        }
      }
      for (const [responseName, raw] of Object.entries(responses)) {
        const media = ((deref(specs[name], raw).content as Json | undefined) ?? {})['application/problem+json'];
        if (!isObject(media)) continue;
        for (const [exampleName, example] of Object.entries((media.examples as Json | undefined) ?? {})) {
          const value = deref(specs[name], example).value as Json;
          const where = `${SPECS[name]} ${responseName} ${exampleName}`;
          const kind = PROBLEMS[value.code as ProblemCode];
          assert.ok(kind, `${where}: ${String(value.code)} is not in platform/errors/catalogue.ts`);
          assert.deepEqual(
            { type: value.type, title: value.title, status: value.status },
            { type: problemType(value.code as ProblemCode), title: kind.title, status: kind.status },
            `${where}: type, title and status of ${String(value.code)}`,
          );
        }
      }
    }
  });
});
