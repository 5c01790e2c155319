// Fuzzing from the contract: for every operation of both OpenAPI specs,
// fast-check generates requests — valid ones from the schemas, boundary
// values, and hostile ones (wrong types, huge values, unicode and lone
// surrogates, NUL, deep JSON, duplicate keys, wrong content types, oversized
// bodies, traversal and encoded slashes in ids, bogus query parameters,
// missing and bad credentials) — against the in-process stack with the
// plans' limits raised. Every answer must be documented for its operation
// and validate against the spec; no 5xx; every error a catalogue
// problem+json; the gateway healthy afterwards.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6379/8 npx node --import tsx --test test/security/fuzz.test.ts
//   FUZZ_RUNS=500 FUZZ_SEED=42 ... for a longer or another run.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { binaryStl, objModel } from '../helpers/models.ts';
import { boundaries, DELETE, hostileValue, NASTY_STRINGS, paths, replaceAt, schemaAt, valid } from './arbitraries.ts';
import { conformanceErrors, problemShapeErrors } from './conformance.ts';
import { countOperationsInSpecs, fillPath, isObject, operations, type Json, type Operation } from './contract.ts';
import { sendRaw, type Answer, type RawRequest } from './http.ts';
import { addRevokedConsumer, raiseLimits, REVOKED_KEY, startSecurityStack, type SecurityStack, type Seller } from './fixture.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const BODY_LIMIT = 1_048_576;
const FREE_UPLOAD_CAP = 64 * 1024;

const CATEGORIES = ['valid', 'valid', 'valid', 'boundary', 'wrong-value', 'missing-field', 'mass-assignment', 'raw-body', 'content-type', 'oversized', 'path-attack', 'query-attack', 'header-attack'] as const;
type Category = (typeof CATEGORIES)[number];

/** Raw JSON bodies no schema describes. */
const RAW_BODIES: (string | Buffer)[] = [
  '{"model_id":"mdl_aaaaaaaa","model_id":"mdl_bbbbbbbb","parameters":{"material":"silver_925","size_mm":1,"finish":"matte","size_mm":2}}',
  '{"quote_id":"qt_aaaaaaaaaaaa","quote_id":{"$gt":""}}',
  '['.repeat(5_000) + ']'.repeat(5_000),
  '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000),
  '{"reason":"\\ud800"}',
  '{"reason":"a\\u0000b"}',
  Buffer.from([0x7b, 0x22, 0x72, 0x65, 0x61, 0x73, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0xff, 0xfe, 0x22, 0x7d]),
  '\ufeff{"reason":"bom"}',
  '{"reason": NaN}',
  '{"reason": "x",}',
  '{"model_id"',
  '',
  'null',
  '[]',
  '"just a string"',
  '1e999999',
  '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}',
  '\u0000\u0000\u0000',
];
const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', 'application/json; charset=utf-16', 'application/json;;;', 'application/vnd.api+json', '*/*', 'application/octet-stream', 'model/stl', ''];
const PATH_ATTACKS = ['..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fadmin', 'ord_abc%2Fdef123', 'ord_abcdefgh%00', '%00', '%252e%252e%252f', 'ord_abcdefgh%3Fx%3D1', 'ord_abcdefgh%23frag', '%F0%9F%92%8E', '%E0%A4%A', '%ZZ', 'ord_' + 'a'.repeat(300), '%20', 'ord_ABCDEFGH', '..;', 'ord_abcdefgh;x=1', '*', 'ord_abcdefgh%0d%0aX-Injected:%201'];
const QUERY_ATTACKS = ['__proto__[admin]=1', 'constructor[prototype][x]=1', 'limit=1e999', 'limit=-0', 'limit[]=1', 'limit=%00', 'limit=1&limit=2', 'cursor=' + 'A'.repeat(9_000), 'status=', 'status[$ne]=x', 'seller_id=slr_0001', 'created_from=%E0%A4%A', 'a=' + '%F0%9F%92%8E'.repeat(50), '=&&=', 'debug=true', 'fields=seller_id,price_job_id'];
const EXTRA_HEADERS: Record<string, string>[] = [
  { 'x-forwarded-for': '127.0.0.1' },
  { 'x-original-url': '/internal/v1/dashboard/orders', 'x-rewrite-url': '/internal/v1/dashboard/orders' },
  { 'x-http-method-override': 'DELETE' },
  { 'x-request-id': 'a'.repeat(500) },
  { 'x-request-id': '../../etc' },
  { 'x-seller-id': 'slr_0001', 'x-consumer-id': 'slr_0001' },
  { traceparent: '00-zzzz-zzzz-01' },
  { 'if-none-match': '"' + 'x'.repeat(2000) + '"' },
  { accept: 'application/xml' },
  { 'accept-encoding': 'gzip;q=1e999, br' },
];

interface Generated {
  category: Category;
  request: RawRequest;
}

/** encodeURIComponent that also sends lone surrogates (as their WTF-8 bytes) instead of throwing. */
function encode(text: string): string {
  return text.replace(/[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]|[^\ud800-\udfff]+/g, (part) => {
    if (part.length !== 1 || !/[\ud800-\udfff]/.test(part)) return encodeURIComponent(part);
    const c = part.charCodeAt(0);
    return [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
  });
}

function encodeQuery(values: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      const text = typeof item === 'string' ? item : isObject(item) || Array.isArray(item) ? JSON.stringify(item) : String(item);
      parts.push(`${encode(name)}=${encode(text)}`);
    }
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** Replaces generated `<prefix>_...` ids in a body with the seller's real ones, so valid bodies reach the handlers. */
function withOwnIds(value: unknown, seller: Seller | undefined, pick: number): unknown {
  if (!seller) return value;
  if (Array.isArray(value)) return value.map((v) => withOwnIds(v, seller, pick));
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const prefix = typeof v === 'string' ? /^([a-z]+_)/.exec(v)?.[1] : undefined;
    const own = prefix ? seller.ids.get(prefix) : undefined;
    out[key] = key.endsWith('_id') && own && pick % 4 !== 0 ? own[pick % own.length] : withOwnIds(v, seller, pick);
  }
  return out;
}

function requestArbitrary(op: Operation, ctx: SecurityStack): fc.Arbitrary<Generated> {
  const query: Record<string, fc.Arbitrary<unknown>> = {};
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  for (const p of queryParams) query[p.name] = valid(p.schema);
  const headerParams = op.parameters.filter((p) => p.in === 'header');
  const headers: Record<string, fc.Arbitrary<unknown>> = {};
  for (const p of headerParams) headers[p.name] = valid(p.schema);
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const pathValues: Record<string, fc.Arbitrary<unknown>> = {};
  for (const p of pathParams) pathValues[p.name] = valid(p.schema);
  const jsonSchema = op.requestBody.get('application/json');
  const binary = [...op.requestBody.keys()].filter((m) => m !== 'application/json');

  return fc
    .record({
      category: fc.constantFrom(...CATEGORIES),
      auth: fc.nat(99),
      seller: fc.nat(ctx.sellers.length - 1),
      pick: fc.nat(10_000),
      query: fc.record(query, { requiredKeys: queryParams.filter((p) => p.required).map((p) => p.name) }),
      headers: fc.record(headers, { requiredKeys: headerParams.filter((p) => p.required).map((p) => p.name) }),
      path: fc.record(pathValues),
      // The spec's own examples (ids swapped for the seller's) reach the handlers more often than random bodies.
      body: jsonSchema ? (op.requestBodyExamples.length > 0 ? fc.oneof(valid(jsonSchema), fc.constantFrom(...op.requestBodyExamples)) : valid(jsonSchema)) : fc.constant(undefined),
      hostile: hostileValue,
      rawBody: fc.constantFrom(...RAW_BODIES),
      contentType: fc.constantFrom(...CONTENT_TYPES),
      pathAttack: fc.oneof(fc.constantFrom(...PATH_ATTACKS), fc.constantFrom(...NASTY_STRINGS).map(encode)),
      queryAttack: fc.constantFrom(...QUERY_ATTACKS),
      extraHeaders: fc.constantFrom(...EXTRA_HEADERS),
      bytes: fc.uint8Array({ maxLength: 2_000 }),
    })
    .map((g): Generated => {
      const seller = ctx.sellers[g.seller] as Seller;
      const reqHeaders: Record<string, string> = {};
      // Credentials: valid most of the time, sometimes none, sometimes wrong.
      let actingSeller: Seller | undefined;
      if (op.spec === 'seller') {
        if (g.auth < 80) {
          reqHeaders['x-api-key'] = seller.key;
          actingSeller = seller;
        } else if (g.auth < 90) reqHeaders['x-api-key'] = [REVOKED_KEY, 'demo-pro-key ', 'DEMO-PRO-KEY', 'x'.repeat(4_000), 'null'][g.pick % 5] as string;
      } else if (g.auth < 80) reqHeaders.authorization = `Bearer ${ctx.operatorToken}`;
      else if (g.auth < 90) reqHeaders.authorization = ['Bearer', 'Bearer x.y.z', 'Basic b3A6cGFzcw==', `Bearer ${ctx.operatorToken}x`, 'bearer  ' + ctx.operatorToken][g.pick % 5] as string;
      if (g.auth >= 90 && g.auth < 95) reqHeaders['x-api-key'] = seller.key; // the other realm's credential

      // Path ids: the seller's own, another seller's, or generated from the pattern.
      const pathValues: Record<string, string> = {};
      for (const p of pathParams) {
        const generated = String(g.path[p.name]);
        const prefix = /^([a-z]+_)/.exec(generated)?.[1];
        const pool = prefix ? (g.pick % 3 === 0 ? ctx.sellers[(g.seller + 1) % ctx.sellers.length] : seller)?.ids.get(prefix) : undefined;
        pathValues[p.name] = encode(pool && g.pick % 5 !== 0 ? (pool[g.pick % pool.length] as string) : generated);
      }
      let queryValues: Record<string, unknown> = { ...g.query };
      for (const [name, value] of Object.entries(g.headers)) reqHeaders[name.toLowerCase()] = String(value);
      let body: string | Buffer | undefined;
      let bodyValue: unknown = jsonSchema ? withOwnIds(g.body, actingSeller, g.pick) : undefined;
      if (jsonSchema) reqHeaders['content-type'] = 'application/json';
      if (binary.length > 0) {
        reqHeaders['content-type'] = binary[g.pick % binary.length] as string;
        body = [binaryStl(5 + (g.pick % 20), g.pick), Buffer.from(objModel(3)), Buffer.from(g.bytes)][g.pick % 3];
      }
      let queryRaw: string | undefined;

      switch (g.category) {
        case 'valid':
          break;
        case 'boundary': {
          const targets: { kind: 'query' | 'body'; path: (string | number)[]; values: unknown[] }[] = [];
          for (const p of queryParams) targets.push({ kind: 'query', path: [p.name], values: boundaries(p.schema) });
          if (jsonSchema) for (const path of paths(bodyValue).slice(1)) targets.push({ kind: 'body', path, values: boundaries(schemaAt(jsonSchema, path) ?? {}) });
          const usable = targets.filter((t) => t.values.length > 0);
          const target = usable[g.pick % Math.max(1, usable.length)];
          if (target) {
            const value = target.values[g.pick % target.values.length];
            if (target.kind === 'query') queryValues = { ...queryValues, [target.path[0] as string]: value };
            else bodyValue = replaceAt(bodyValue, target.path, value);
          }
          break;
        }
        case 'wrong-value': {
          const bodyPaths = jsonSchema ? paths(bodyValue) : [];
          const choices = bodyPaths.length + queryParams.length + pathParams.length;
          const at = g.pick % Math.max(1, choices);
          if (at < bodyPaths.length) bodyValue = replaceAt(bodyValue, bodyPaths[at] as (string | number)[], g.hostile);
          else if (at - bodyPaths.length < queryParams.length) queryValues = { ...queryValues, [(queryParams[at - bodyPaths.length] as { name: string }).name]: g.hostile };
          else if (pathParams.length > 0) pathValues[(pathParams[0] as { name: string }).name] = encode(typeof g.hostile === 'string' ? g.hostile : (JSON.stringify(g.hostile) ?? 'x'));
          else bodyValue = g.hostile;
          break;
        }
        case 'missing-field': {
          const bodyPaths = jsonSchema ? paths(bodyValue).slice(1) : [];
          if (bodyPaths.length > 0) bodyValue = replaceAt(bodyValue, bodyPaths[g.pick % bodyPaths.length] as (string | number)[], DELETE);
          else for (const name of Object.keys(reqHeaders).filter((h) => h !== 'x-api-key' && h !== 'authorization')) if (g.pick % 2 === 0) delete reqHeaders[name];
          break;
        }
        case 'mass-assignment': {
          const extra = { price: { amount_minor: 1, currency: 'EUR' }, status: 'SHIPPED', seller_id: 'slr_0001', id: 'ord_aaaaaaaaaaaa', price_job_id: 'job_x', sha256: '0'.repeat(64), operator_id: 'op_1', created_at: '2020-01-01T00:00:00Z' };
          const [name, value] = Object.entries(extra)[g.pick % Object.keys(extra).length] as [string, unknown];
          if (isObject(bodyValue)) bodyValue = { ...bodyValue, [name]: value };
          else queryValues = { ...queryValues, [name]: typeof value === 'string' ? value : JSON.stringify(value) };
          break;
        }
        case 'raw-body':
          body = g.rawBody;
          bodyValue = undefined;
          reqHeaders['content-type'] ??= 'application/json';
          break;
        case 'content-type':
          if (g.contentType === '') delete reqHeaders['content-type'];
          else reqHeaders['content-type'] = g.contentType;
          if (body === undefined && bodyValue === undefined) body = '{"x":1}';
          break;
        case 'oversized':
          bodyValue = undefined;
          if (binary.length > 0) {
            // Over the free plan's cap (lowered for this run) and, some of the time, over the gateway's body limit.
            body = Buffer.concat([binaryStl(10), Buffer.alloc((g.pick % 2 === 0 ? FREE_UPLOAD_CAP : BODY_LIMIT) + 1)]);
          } else {
            body = JSON.stringify({ reason: 'x'.repeat(BODY_LIMIT + 1) });
            reqHeaders['content-type'] ??= 'application/json';
          }
          break;
        case 'path-attack':
          if (pathParams.length > 0) pathValues[(pathParams[0] as { name: string }).name] = g.pathAttack;
          else queryRaw = `?${g.queryAttack}`;
          break;
        case 'query-attack':
          queryRaw = `${encodeQuery(queryValues) || '?'}&${g.queryAttack}`;
          break;
        case 'header-attack':
          Object.assign(reqHeaders, g.extraHeaders);
          break;
      }
      if (bodyValue !== undefined && body === undefined) body = JSON.stringify(bodyValue);
      if (op.method === 'GET' && g.category !== 'content-type' && g.category !== 'raw-body' && g.category !== 'oversized') {
        body = undefined;
        if (!jsonSchema) delete reqHeaders['content-type'];
      }
      const path = fillPath(op.path, pathValues) + (queryRaw ?? encodeQuery(queryValues));
      return { category: g.category, request: { method: op.method, path, headers: reqHeaders, body, streaming: op.streaming } };
    });
}

describe('fuzzing every operation of the OpenAPI specs', () => {
  let ctx: SecurityStack;
  before(async () => {
    ctx = await startSecurityStack({
      mutateConfig: (doc) => {
        raiseLimits(doc);
        addRevokedConsumer(doc);
        doc.plans.free.uploadMaxBytes = FREE_UPLOAD_CAP;
      },
    });
  });
  after(() => ctx?.close());

  test('the specs are read whole: every operation of the YAML is fuzzed', () => {
    assert.equal(operations.length, countOperationsInSpecs());
    assert.ok(operations.length >= 12, `only ${operations.length} operations found`);
  });

  test(`${RUNS} generated requests per operation (seed ${SEED}): documented, valid, never a 5xx`, async (t) => {
    const statuses = new Map<number, number>();
    const categories = new Map<string, number>();
    const failures: string[] = [];
    let tried = 0;
    for (const [index, op] of operations.entries()) {
      const samples = fc.sample(requestArbitrary(op, ctx), { numRuns: RUNS, seed: SEED + index });
      const perOp = new Map<number, number>();
      for (const { category, request } of samples) {
        let answer: Answer;
        try {
          answer = await ctx.http.send(request);
        } catch (error) {
          failures.push(`${op.operationId} [${category}] ${request.method} ${request.path.slice(0, 120)}: no answer (${(error as Error).message})`);
          continue;
        }
        tried++;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        perOp.set(answer.status, (perOp.get(answer.status) ?? 0) + 1);
        categories.set(category, (categories.get(category) ?? 0) + 1);
        const headBytes = request.path.length + Object.entries(request.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
        if (answer.status === 431 && headBytes < 16_384) failures.push(`${op.operationId} [${category}] 431 for a ${headBytes}-byte head`);
        for (const error of conformanceErrors(op, answer)) {
          failures.push(`${op.operationId} [${category}] ${request.method} ${request.path.slice(0, 120)} ct=${request.headers['content-type'] ?? '-'} body=${String(request.body ?? '').slice(0, 80)}: ${error}`);
        }
      }
      t.diagnostic(`${op.operationId}: ${[...perOp].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    }
    t.diagnostic(`operations: ${operations.length}, inputs tried: ${tried}, 5xx: ${[...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0)}`);
    t.diagnostic(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    t.diagnostic(`categories: ${[...categories].map(([c, n]) => `${c}×${n}`).join(' ')}`);
    const distinct = [...new Set(failures)];
    assert.deepEqual(distinct.slice(0, 25), [], `${distinct.length} failures`);
    assert.equal(tried, operations.length * RUNS, 'every generated request got an answer');
    // Valid requests got through: the fuzzing reached the handlers, not only the validators.
    const ok = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
    assert.ok(ok > tried / 10, `only ${ok} of ${tried} answers were 2xx`);
  });

  test('CR/LF and NUL in header values, malformed request lines (raw sockets): a clean problem+json 400, nothing injected', async (t) => {
    const attacks = [
      'GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\nX-Request-Id: abc\rX-Injected: 1\r\nConnection: close\r\n\r\n',
      'GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\nX-Injected: 1\r\nConnection: close\r\n\r\n',
      'GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\u0000\r\nConnection: close\r\n\r\n',
      'POST /v1/models HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\nX-Filename: a.stl\r\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      'GET /v1/orders/ord_abcdefgh\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
      'GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\n X-Folded: 1\r\nConnection: close\r\n\r\n',
      'GET /v1/usage?x=%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\nConnection: close\r\n\r\n',
      'GET /v1/usage HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GARBAGE\r\n\r\n',
      `GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`,
    ];
    const seen: string[] = [];
    for (const attack of attacks) {
      const answer = await sendRaw(ctx.stack.url, attack);
      seen.push(String(answer.status));
      assert.ok(answer.status >= 200 && answer.status < 500, `${JSON.stringify(attack.slice(0, 80))} → ${answer.status}`);
      assert.equal(answer.headers['x-injected'], undefined, `${JSON.stringify(attack.slice(0, 80))}: a header was injected`);
      if (answer.status >= 400) assert.deepEqual(problemShapeErrors({ ...answer, headers: { 'x-request-id': String((answer.json as Json | undefined)?.request_id), ...answer.headers } }), [], JSON.stringify(attack.slice(0, 80)));
    }
    t.diagnostic(`raw-socket attacks: ${attacks.length}, statuses ${seen.join(' ')}`);
  });

  test('the gateway is healthy afterwards', async () => {
    assert.equal((await ctx.http.send({ method: 'GET', path: '/healthz', headers: {} })).status, 200);
    const ready = await ctx.http.send({ method: 'GET', path: '/readyz', headers: {} });
    assert.equal(ready.status, 200, ready.text);
    const usage = await ctx.http.send({ method: 'GET', path: '/v1/usage', headers: { 'x-api-key': 'demo-pro-key' } });
    assert.equal(usage.status, 200, usage.text);
  });
});
