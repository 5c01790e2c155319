// OWASP API Security Top 10 (2023) as tests, grouped by risk id. Routes
// are derived from the specs (path parameters, body ids, query limits,
// security requirements), so new operations are covered as they appear.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6379/8 npx node --import tsx --test test/security/owasp.test.ts

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { SignJWT, UnsecuredJWT } from 'jose';
import { records } from '../../gateway/operations/records.ts';
import { toFastifyPath } from '../../gateway/openapi/specs.ts';
import { binaryStl } from '../helpers/models.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts';
import { conformanceErrors, problemShapeErrors } from './conformance.ts';
import { fillPath, isObject, operations, specs, type Json, type Operation } from './contract.ts';
import { Http, type Answer } from './http.ts';
import { addRevokedConsumer, operatorToken, ORDER_BODY, PARAMETERS, raiseLimits, REVOKED_KEY, startSecurityStack, type SecurityStack, type Seller } from './fixture.ts';

const sellerOps = operations.filter((op) => op.spec === 'seller');
const internalSecured = operations.filter((op) => op.spec === 'internal' && op.secured);
const FREE_UPLOAD_CAP = 64 * 1024;

/** `^ord_[0-9a-z]{8,32}$` → `ord_`. */
function idPrefix(pattern: unknown): string | undefined {
  return typeof pattern === 'string' ? /^\^([a-z]+_)/.exec(pattern)?.[1] : undefined;
}

/** A value for each required header parameter (its example, or one generated from its schema). */
function requiredHeaders(op: Operation, seed: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of op.parameters.filter((p) => p.in === 'header' && p.required)) {
    const pattern = typeof p.schema.pattern === 'string' ? new RegExp(p.schema.pattern) : /^[a-z0-9-]{8,32}$/;
    out[p.name.toLowerCase()] = `${fc.sample(fc.stringMatching(/^[a-z0-9]{6}$/), { numRuns: 1, seed })[0]}-${seed}`.replace(/[^\x21-\x7e]/g, 'x');
    assert.match(out[p.name.toLowerCase()] as string, pattern, `${op.operationId}: header ${p.name}`);
  }
  return out;
}

/** A request of `op` as `credentials`, path ids and body as given; JSON body from the first example unless given. */
function call(http: Http, op: Operation, credentials: Record<string, string>, pathValues: Record<string, string> = {}, body?: unknown, seed = Date.now()): Promise<Answer> {
  const headers: Record<string, string> = { ...credentials, ...requiredHeaders(op, seed) };
  let payload: string | Buffer | undefined;
  if (op.requestBody.has('application/json') && (body !== undefined || op.requestBodyRequired)) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body ?? op.requestBodyExamples[0] ?? {});
  } else if (op.requestBody.size > 0 && op.requestBodyRequired) {
    headers['content-type'] = [...op.requestBody.keys()][0] as string;
    payload = binaryStl(10, seed % 1000);
  }
  const filled: Record<string, string> = {};
  for (const p of op.parameters.filter((p) => p.in === 'path')) filled[p.name] = encodeURIComponent(pathValues[p.name] ?? missingId(p.schema.pattern));
  return http.send({ method: op.method, path: fillPath(op.path, filled), headers, body: payload, streaming: op.streaming });
}

/** An id that matches the pattern and exists nowhere. */
function missingId(pattern: unknown): string {
  const prefix = idPrefix(pattern) ?? '';
  for (const length of [12, 16, 8, 32]) {
    const candidate = `${prefix}${'z'.repeat(length)}`;
    if (typeof pattern !== 'string' || new RegExp(pattern).test(candidate)) return candidate;
  }
  return fc.sample(fc.stringMatching(new RegExp(String(pattern))), { numRuns: 1, seed: 1 })[0] as string;
}

function without(body: unknown, ...keys: string[]): Json {
  const copy = { ...(body as Json) };
  for (const key of keys) delete copy[key];
  return copy;
}

describe('OWASP API Security Top 10 (2023)', () => {
  let ctx: SecurityStack;
  let http: Http;
  let alice: Seller; // the attacker: demo-free-key
  let bob: Seller; // the victim: demo-pro-key
  const routes: { method: string; url: string }[] = [];

  before(async () => {
    ctx = await startSecurityStack({
      mutateConfig: (doc) => {
        raiseLimits(doc);
        addRevokedConsumer(doc);
        doc.plans.free.uploadMaxBytes = FREE_UPLOAD_CAP;
      },
      onRoute: (route) => {
        for (const method of [route.method].flat()) routes.push({ method, url: route.url });
      },
    });
    http = ctx.http;
    [alice, bob] = ctx.sellers as [Seller, Seller];
  });
  after(() => ctx?.close());

  /** Bob's own ids for the path parameters of `path` (by each parameter's id prefix). */
  function bobsPathValues(path: string): Record<string, string> {
    const op = operations.find((o) => o.path === path);
    const values: Record<string, string> = {};
    for (const p of op?.parameters.filter((p) => p.in === 'path') ?? []) {
      // A key id may be a config key's (any name): its pattern has no prefix, Bob's issued key has `key_`.
      const prefix = idPrefix(p.schema.pattern) ?? (p.name === 'key_id' ? 'key_' : undefined);
      values[p.name] = (prefix && bob.ids.get(prefix)?.[0]) || missingId(p.schema.pattern);
    }
    return values;
  }

  /** Bob's id for a path or body parameter with this pattern; creates one through the spec's collection POST when the fixture has none. */
  async function bobsId(pattern: unknown, where: string, newest = false): Promise<string> {
    const prefix = idPrefix(pattern);
    assert.ok(prefix, `${where}: id pattern ${String(pattern)} has no <prefix>_ to tell which resource it names`);
    const known = newest ? bob.ids.get(prefix)?.at(-1) : bob.ids.get(prefix)?.[0];
    if (known) return known;
    // A resource type new to this suite: create one with the spec's example body.
    for (const op of sellerOps.filter((o) => o.method === 'POST' && !o.path.includes('{'))) {
      const answer = await call(http, op, { 'x-api-key': bob.key });
      const id = isObject(answer.json) ? answer.json.id : undefined;
      if (answer.status < 300 && typeof id === 'string' && id.startsWith(prefix)) return id;
    }
    assert.fail(`${where}: cannot get seller ${bob.id} a ${prefix} id: teach bobsId (test/security/owasp.test.ts) how to create one`);
  }

  describe('API1 Broken Object Level Authorization', () => {
    const idRoutes = sellerOps.filter((op) => op.parameters.some((p) => p.in === 'path'));

    test('the seller API has id-bearing routes to check', () => {
      assert.equal(idRoutes.length, sellerOps.filter((op) => op.path.includes('{')).length);
      assert.ok(idRoutes.length >= 3, `only ${idRoutes.length} id-bearing seller routes`);
    });

    // A DELETE removes the owner's resource the other checks use: run those last.
    for (const op of [...idRoutes].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'))) {
      test(`${op.operationId} ${op.method} ${op.path}: another seller's id answers 404 exactly like a missing one`, async () => {
        const pathValues: Record<string, string> = {};
        // A DELETE takes the newest of Bob's resources; the other checks keep the first.
        for (const p of op.parameters.filter((p) => p.in === 'path')) pathValues[p.name] = await bobsId(p.schema.pattern, op.operationId, op.method === 'DELETE');
        const owner = await call(http, op, { 'x-api-key': bob.key }, pathValues);
        assert.notEqual(owner.status, 404, `${op.operationId}: the owner's own id must exist (${owner.text.slice(0, 200)})`);
        const foreign = await call(http, op, { 'x-api-key': alice.key }, pathValues);
        const missing = await call(http, op, { 'x-api-key': alice.key }, {});
        for (const [name, answer] of [['foreign', foreign], ['missing', missing]] as const) {
          assert.equal(answer.status, 404, `${name}: ${answer.text}`);
          assert.deepEqual(problemShapeErrors(answer), []);
        }
        const strip = (a: Answer) => without(a.json, 'detail', 'instance', 'request_id', 'trace_id');
        assert.deepEqual(strip(foreign), strip(missing));
        // Not even the wording tells the two apart, beyond the id itself.
        const detail = (a: Answer, id: string) => String((a.json as Json).detail ?? '').replace(id, '<id>');
        const foreignId = Object.values(pathValues)[0] as string;
        assert.equal(detail(foreign, foreignId), detail(missing, missingId(op.parameters.find((p) => p.in === 'path')?.schema.pattern)));
      });
    }

    const bodyIdOps = sellerOps.flatMap((op) => {
      const schema = op.requestBody.get('application/json');
      const props = (schema?.properties as Record<string, Json> | undefined) ?? {};
      return Object.entries(props)
        .filter(([name, prop]) => name.endsWith('_id') && idPrefix(prop.pattern))
        .map(([name, prop]) => ({ op, name, pattern: prop.pattern }));
    });

    test('ids in request bodies (model_id, quote_id, ...) are checked too', async () => {
      assert.ok(bodyIdOps.length >= 3, `only ${bodyIdOps.length} body ids found`);
      for (const { op, name, pattern } of bodyIdOps) {
        const example = op.requestBodyExamples.find((e) => isObject(e) && name in e);
        assert.ok(example, `${op.operationId}: no request example with ${name}`);
        const bobs = await bobsId(pattern, `${op.operationId} body.${name}`);
        const answer = await call(http, op, { 'x-api-key': alice.key }, {}, { ...(example as Json), [name]: bobs });
        assert.equal(answer.status, 404, `${op.operationId} body.${name} = another seller's id: ${answer.text}`);
        assert.deepEqual(problemShapeErrors(answer), []);
      }
    });

    test('lists hold only the caller’s own resources', async () => {
      const page = await http.send({ method: 'GET', path: '/v1/orders?limit=100', headers: { 'x-api-key': alice.key } });
      assert.equal(page.status, 200);
      const ids = (page.json as { items: { id: string }[] }).items.map((o) => o.id);
      const own = new Set(ctx.stack.crm.store.listOrders({ sellerId: alice.id, limit: 1000 }).items.map((o) => o.id));
      assert.ok(ids.length > 0);
      for (const id of ids) assert.ok(own.has(id), `${id} is not ${alice.id}'s`);
      for (const id of bob.ids.get('ord_') ?? []) assert.ok(!ids.includes(id));
    });

    test('known prices are not shared across sellers: the same model content quoted by another seller starts its own price job', async () => {
      const file = binaryStl(30, 4242);
      const parameters = { ...PARAMETERS, size_mm: 23 };
      const quoteOf = async (seller: Seller) => {
        const model = await http.send({ method: 'POST', path: '/v1/models', headers: { 'x-api-key': seller.key, 'content-type': 'application/octet-stream' }, body: file });
        assert.equal(model.status, 201, model.text);
        return http.send({ method: 'POST', path: '/v1/quotes', headers: { 'x-api-key': seller.key, 'content-type': 'application/json' }, body: JSON.stringify({ model_id: (model.json as Json).id, parameters }) });
      };
      const first = await quoteOf(bob);
      assert.equal(first.status, 202);
      let quote = first.json as Json;
      for (let i = 0; i < 100 && quote.status === 'pending'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        quote = (await http.send({ method: 'GET', path: `/v1/quotes/${String(quote.id)}`, headers: { 'x-api-key': bob.key } })).json as Json;
      }
      assert.equal(quote.status, 'ready');
      // Bob himself gets his known price at once ...
      assert.equal((await quoteOf(bob)).status, 200);
      // ... Alice, with the very same file, learns nothing: a price job of her own.
      const other = await quoteOf(alice);
      assert.equal(other.status, 202, `another seller's price was reused: ${other.text}`);
      assert.equal((other.json as Json).price, null);
    });
  });

  describe('API2 Broken Authentication', () => {
    const securedSeller = sellerOps.filter((op) => op.secured);

    test('every seller operation: missing, malformed, unknown and revoked keys → 401 with a challenge', async () => {
      assert.equal(securedSeller.length, sellerOps.length, 'every seller operation needs a key');
      for (const op of securedSeller) {
        const cases: [Record<string, string>, string][] = [
          [{}, 'FACET_ERR_AUTH_MISSING_KEY'],
          [{ 'x-api-key': '' }, 'FACET_ERR_AUTH_MISSING_KEY'],
          [{ 'x-api-key': 'not-a-key' }, 'FACET_ERR_AUTH_INVALID_KEY'],
          [{ 'x-api-key': `${bob.key}-` }, 'FACET_ERR_AUTH_INVALID_KEY'],
          [{ 'x-api-key': bob.key.toUpperCase() }, 'FACET_ERR_AUTH_INVALID_KEY'],
          [{ 'x-api-key': REVOKED_KEY }, 'FACET_ERR_AUTH_INVALID_KEY'],
          [{ authorization: `Bearer ${bob.key}` }, 'FACET_ERR_AUTH_MISSING_KEY'],
        ];
        for (const [credentials, code] of cases) {
          const answer = await call(http, op, credentials, { id: bob.ids.get('ord_')?.[0] ?? 'ord_zzzzzzzzzzzz' });
          assert.equal(answer.status, 401, `${op.operationId} ${JSON.stringify(credentials)}: ${answer.text}`);
          assert.equal((answer.json as Json).code, code, `${op.operationId} ${JSON.stringify(credentials)}`);
          assert.match(answer.headers['www-authenticate'] ?? '', /^ApiKey /);
        }
      }
    });

    test('every operator operation: no, malformed, unsigned, wrongly signed, expired or wrong-role tokens are refused', async () => {
      assert.ok(internalSecured.length >= 1);
      const hs512 = await new SignJWT({ role: 'operator' }).setProtectedHeader({ alg: 'HS512' }).setExpirationTime('5m').sign(new TextEncoder().encode(TEST_JWT_SECRET));
      const cases: [string | undefined, number, string][] = [
        [undefined, 401, 'FACET_ERR_AUTH_MISSING_TOKEN'],
        ['Bearer', 401, 'FACET_ERR_AUTH_MISSING_TOKEN'],
        ['Basic b3A6cGFzcw==', 401, 'FACET_ERR_AUTH_MISSING_TOKEN'],
        ['Bearer not.a.jwt', 401, 'FACET_ERR_AUTH_INVALID_TOKEN'],
        [`Bearer ${new UnsecuredJWT({ role: 'operator' }).setExpirationTime('5m').encode()}`, 401, 'FACET_ERR_AUTH_INVALID_TOKEN'],
        [`Bearer ${hs512}`, 401, 'FACET_ERR_AUTH_INVALID_TOKEN'],
        [`Bearer ${await operatorToken({ role: 'operator' }, { secret: 'another-secret-of-at-least-32-characters!' })}`, 401, 'FACET_ERR_AUTH_INVALID_TOKEN'],
        [`Bearer ${await operatorToken({ role: 'operator' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })}`, 401, 'FACET_ERR_AUTH_INVALID_TOKEN'],
        [`Bearer ${await operatorToken({ role: 'seller' })}`, 403, 'FACET_ERR_AUTH_FORBIDDEN'],
        [`Bearer ${await operatorToken({ role: ['viewer', 'Operator'] })}`, 403, 'FACET_ERR_AUTH_FORBIDDEN'],
        [`Bearer ${await operatorToken({})}`, 403, 'FACET_ERR_AUTH_FORBIDDEN'],
      ];
      for (const op of internalSecured) {
        for (const [authorization, status, code] of cases) {
          const answer = await call(http, op, authorization ? { authorization } : {});
          assert.equal(answer.status, status, `${op.operationId} ${String(authorization).slice(0, 40)}: ${answer.text}`);
          assert.equal((answer.json as Json).code, code);
        }
        // A valid operator token is admitted (an id-bearing route gets a real order).
        const admitted = await call(http, op, { authorization: `Bearer ${ctx.operatorToken}` }, bobsPathValues(op.path));
        assert.ok(admitted.status >= 200 && admitted.status < 300, `${op.operationId} with an operator token: ${admitted.status} ${admitted.text.slice(0, 200)}`);
      }
    });
  });

  describe('API3 Broken Object Property Level Authorization', () => {
    const writes = sellerOps.filter((op) => op.requestBody.has('application/json'));
    const FORBIDDEN = { price: { amount_minor: 1, currency: 'EUR' }, status: 'SHIPPED', seller_id: 'slr_0001', id: 'ord_aaaaaaaaaaaa', price_job_id: 'job_1', created_at: '2020-01-01T00:00:00Z' };

    test('mass assignment: price, status, seller_id, id ... in a write body are rejected naming the field', async () => {
      assert.ok(writes.length >= 3, `only ${writes.length} JSON writes`);
      let seed = 1;
      for (const op of writes) {
        const example = op.requestBodyExamples[0] ?? {};
        for (const [name, value] of Object.entries(FORBIDDEN)) {
          const body = { ...(withOwnIds(example, bob) as Json), [name]: value };
          const answer = await call(http, op, { 'x-api-key': bob.key }, bobsPathValues(op.path), body, seed++);
          assert.equal(answer.status, 400, `${op.operationId} + ${name}: ${answer.text}`);
          assert.ok(((answer.json as Json).errors as { field: string }[]).some((e) => e.field === `body.${name}`), `${op.operationId} + ${name}: ${answer.text}`);
        }
      }
    });

    test('answers expose no internal fields or addresses', async () => {
      const internalKeys = new Set(['seller_id', 'price_job_id', 'operator_id', 'crm_id', 'mes_id', 'internal_url', 'password', 'secret']);
      const internalText = [new URL(ctx.stack.crm.url).host, new URL(ctx.stack.mes.url).host, '127.0.0.1', 'localhost', TEST_JWT_SECRET];
      const seen: string[] = [];
      const walk = (node: unknown, where: string): void => {
        if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${where}[${i}]`));
        else if (isObject(node)) for (const [k, v] of Object.entries(node)) {
          assert.ok(!internalKeys.has(k) || where === 'getUsage', `${where}.${k} is internal`);
          walk(v, `${where}.${k}`);
        }
      };
      const key = { 'x-api-key': bob.key };
      const reads = [
        ['listOrders', '/v1/orders?limit=10'],
        ['getOrder', `/v1/orders/${bob.ids.get('ord_')?.[0]}`],
        ['getQuote', `/v1/quotes/${bob.ids.get('qt_')?.[0]}`],
        ['listMaterials', '/v1/materials'],
        ['getUsage', '/v1/usage'],
      ] as const;
      for (const [name, path] of reads) {
        const answer = await http.send({ method: 'GET', path, headers: key });
        assert.equal(answer.status, 200, `${name}: ${answer.text}`);
        walk(answer.json, name);
        for (const text of internalText) assert.ok(!answer.text.includes(text), `${name} mentions ${text}`);
        seen.push(name);
      }
      const model = await http.send({ method: 'POST', path: '/v1/models', headers: { ...key, 'content-type': 'application/octet-stream', 'x-filename': '../../etc/passwd' }, body: binaryStl(5, 77) });
      walk(model.json, 'uploadModel');
      assert.equal((model.json as Json).filename, 'passwd', 'directories are dropped from X-Filename');
      const usage = (await http.send({ method: 'GET', path: '/v1/usage', headers: key })).json as Json;
      assert.equal(usage.seller_id, bob.id, 'the only seller_id shown is the caller’s own');
      assert.equal(seen.length, reads.length);
    });
  });

  describe('API4 Unrestricted Resource Consumption', () => {
    test('page sizes are capped: every `limit` parameter refuses its maximum + 1 and a page never exceeds it', async () => {
      const paged = operations.filter((op) => op.parameters.some((p) => p.in === 'query' && p.name === 'limit'));
      assert.ok(paged.length >= 2);
      for (const op of paged) {
        const limit = op.parameters.find((p) => p.name === 'limit')?.schema as Json;
        assert.equal(typeof limit.maximum, 'number', `${op.operationId}: limit has no maximum`);
        const credentials: Record<string, string> = op.spec === 'seller' ? { 'x-api-key': bob.key } : { authorization: `Bearer ${ctx.operatorToken}` };
        const path = fillPath(op.path, bobsPathValues(op.path));
        const over = await http.send({ method: 'GET', path: `${path}?limit=${Number(limit.maximum) + 1}`, headers: credentials });
        assert.equal(over.status, 400, over.text);
        const max = await http.send({ method: 'GET', path: `${path}?limit=${String(limit.maximum)}`, headers: credentials });
        assert.equal(max.status, 200, max.text);
        assert.ok(((max.json as Json).items as unknown[]).length <= Number(limit.maximum));
      }
    });

    test('uploads above the plan cap → 413 before the MES is called; JSON bodies above 1 MiB → 413', async () => {
      const before = ctx.stack.mes.requests.get('POST /mes/models');
      const big = await http.send({ method: 'POST', path: '/v1/models', headers: { 'x-api-key': alice.key, 'content-type': 'application/octet-stream' }, body: Buffer.concat([binaryStl(10), Buffer.alloc(FREE_UPLOAD_CAP)]) });
      assert.equal(big.status, 413, big.text);
      assert.equal(ctx.stack.mes.requests.get('POST /mes/models'), before);
      for (const op of sellerOps.filter((o) => o.requestBody.has('application/json'))) {
        const answer = await http.send({ method: op.method, path: fillPath(op.path, bobsPathValues(op.path)), headers: { 'x-api-key': bob.key, 'content-type': 'application/json', ...requiredHeaders(op, 9) }, body: JSON.stringify({ reason: 'x'.repeat(1_048_577) }) });
        assert.equal(answer.status, 413, `${op.operationId}: ${answer.text.slice(0, 200)}`);
        assert.deepEqual(conformanceErrors(op, answer), []);
      }
    });
  });

  describe('API5 Broken Function Level Authorization', () => {
    test('seller keys on every internal operation → 401/403; operator tokens on every seller operation → 401', async () => {
      for (const op of internalSecured) {
        for (const credentials of [{ 'x-api-key': bob.key }, { 'x-api-key': 'demo-enterprise-key' }, { authorization: `Bearer ${bob.key}` }] as Record<string, string>[]) {
          const answer = await call(http, op, credentials);
          assert.ok([401, 403].includes(answer.status), `${op.operationId} with ${JSON.stringify(credentials)}: ${answer.status}`);
        }
      }
      for (const op of sellerOps) {
        const answer = await call(http, op, { authorization: `Bearer ${ctx.operatorToken}` }, { id: bob.ids.get('ord_')?.[0] ?? '' });
        assert.equal(answer.status, 401, `${op.operationId} with an operator token: ${answer.text}`);
      }
    });

    test('undocumented methods on documented paths are not routes (404/405), never served', async () => {
      let checked = 0;
      for (const path of new Set(operations.map((op) => op.path))) {
        const documented = new Set(operations.filter((op) => op.path === path).map((op) => op.method));
        if (documented.has('GET')) documented.add('HEAD');
        for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'].filter((m) => !documented.has(m))) {
          const answer = await http.send({ method, path: fillPath(path, bobsPathValues(path)), headers: { 'x-api-key': bob.key, authorization: `Bearer ${ctx.operatorToken}` } });
          assert.ok([404, 405].includes(answer.status), `${method} ${path}: ${answer.status}`);
          checked++;
        }
      }
      assert.ok(checked > operations.length);
    });
  });

  describe('API6 Unrestricted Access to Sensitive Business Flows', () => {
    test('placing an order needs an Idempotency-Key, and a replay places no second order', async () => {
      const body = JSON.stringify({ model_id: bob.ids.get('mdl_')?.[0], parameters: PARAMETERS, ...ORDER_BODY });
      const headers = { 'x-api-key': bob.key, 'content-type': 'application/json' };
      const none = await http.send({ method: 'POST', path: '/v1/orders', headers, body });
      assert.equal((none.json as Json).code, 'FACET_ERR_IDEMPOTENCY_KEY_MISSING');
      const first = await http.send({ method: 'POST', path: '/v1/orders', headers: { ...headers, 'idempotency-key': 'owasp-replay' }, body });
      const again = await http.send({ method: 'POST', path: '/v1/orders', headers: { ...headers, 'idempotency-key': 'owasp-replay' }, body });
      assert.equal(first.status, 202);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal((again.json as Json).id, (first.json as Json).id);
    });
  });

  describe('API7 Server Side Request Forgery', () => {
    const urlFields = sellerOps.flatMap((op) => {
      const props = (op.requestBody.get('application/json')?.properties as Record<string, Json> | undefined) ?? {};
      return Object.entries(props)
        .filter(([name, prop]) => /url|uri|endpoint|callback/i.test(name) || prop.format === 'uri')
        .map(([name]) => ({ op, name }));
    });
    const reason = 'no webhook registration (a URL in a request body) in the seller spec yet: the notifications work adds it';

    test('webhook URLs pointing at loopback, private networks or cloud metadata are refused', { skip: urlFields.length === 0 ? reason : false }, async () => {
      const targets = [
        'http://127.0.0.1:8092/crm/orders',
        'http://localhost/',
        'http://[::1]/',
        'http://0.0.0.0/',
        'http://2130706433/',
        'http://0x7f.0.0.1/',
        'http://10.0.0.1/',
        'http://172.16.0.1/',
        'http://192.168.1.1/',
        'http://169.254.169.254/latest/meta-data/',
        'http://metadata.google.internal/',
        'http://[fd00::1]/',
        'file:///etc/passwd',
        'gopher://127.0.0.1:6379/_FLUSHALL',
        `http://${new URL(REDIS_URL).host}/`,
      ];
      for (const { op, name } of urlFields) {
        const example = op.requestBodyExamples.find((e) => isObject(e) && name in e) ?? {};
        for (const target of targets) {
          const answer = await call(http, op, { 'x-api-key': bob.key }, {}, { ...(example as Json), [name]: target });
          assert.ok(answer.status >= 400 && answer.status < 500, `${op.operationId} ${name}=${target}: ${answer.status} ${answer.text.slice(0, 200)}`);
          assert.deepEqual(problemShapeErrors(answer), []);
        }
      }
    });
  });

  describe('API8 Security Misconfiguration', () => {
    const samples = (): [string, string, Record<string, string>][] => [
      ['seller 200', '/v1/usage', { 'x-api-key': bob.key }],
      ['seller 400', '/v1/orders?limit=0', { 'x-api-key': bob.key }],
      ['seller 401', '/v1/orders', {}],
      ['unknown route', '/v1/nothing', {}],
      ['docs portal', '/docs', {}],
      ['spec', '/openapi.json', {}],
      ['health', '/healthz', {}],
      ['materials (streamed from the MES)', '/v1/materials', { 'x-api-key': bob.key }],
    ];

    test('security headers on every kind of answer: nosniff, no framing, no referrer, no X-Powered-By or Server; errors never cached', async () => {
      for (const [name, path, headers] of samples()) {
        const answer = await http.send({ method: 'GET', path, headers });
        assert.equal(answer.headers['x-content-type-options'], 'nosniff', name);
        assert.equal(answer.headers['x-frame-options'], 'DENY', name);
        assert.equal(answer.headers['referrer-policy'], 'no-referrer', name);
        assert.equal(answer.headers['x-powered-by'], undefined, name);
        assert.equal(answer.headers.server, undefined, name);
        if (answer.status >= 400) assert.equal(answer.headers['cache-control'], 'no-store', name);
        else assert.doesNotMatch(answer.headers['cache-control'] ?? 'no-store', /public/, `${name}: seller data is never publicly cacheable`);
      }
    });

    test('CORS: no cross-origin browser access; preflights from any origin get no Access-Control-Allow-Origin', async () => {
      for (const origin of ['https://evil.example', 'null', 'http://localhost:8080', ctx.stack.url]) {
        for (const path of ['/v1/orders', '/v1/quotes', '/internal/v1/dashboard/orders', '/docs']) {
          const preflight = await http.send({ method: 'OPTIONS', path, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key, content-type' } });
          assert.ok(preflight.status >= 400, `preflight ${path} from ${origin}: ${preflight.status}`);
          const simple = await http.send({ method: 'GET', path: '/v1/usage', headers: { origin, 'x-api-key': bob.key } });
          for (const answer of [preflight, simple]) {
            for (const header of Object.keys(answer.headers)) assert.ok(!header.startsWith('access-control-'), `${path} from ${origin}: ${header}`);
          }
        }
      }
    });

    test('TRACE is not echoed; errors say nothing about the software or the stack', async () => {
      const trace = await http.send({ method: 'TRACE', path: '/v1/usage', headers: { 'x-api-key': bob.key, cookie: 'secret=1' } });
      assert.ok(trace.status >= 400);
      assert.ok(!trace.text.includes('secret=1'));
      const broken = await http.send({ method: 'POST', path: '/v1/quotes', headers: { 'x-api-key': bob.key, 'content-type': 'application/json' }, body: '{"model_id":' });
      assert.equal(broken.status, 400);
      assert.doesNotMatch(broken.text, /at \w+ \(|node_modules|SyntaxError|fastify/i);
    });
  });

  describe('API9 Improper Inventory Management', () => {
    // Infrastructure the specs do not describe on purpose: metrics, the docs portals and their assets, the raw specs
    // (OpenAPI, AsyncAPI), problem type pages, and the console's and the portal's pages and bundles (gateway/pages.ts).
    const INFRASTRUCTURE = [
      /^\/metrics$/,
      /^\/docs(\/.*)?$/,
      /^\/internal\/docs(\/.*)?$/,
      /^\/(internal\/)?openapi\.(json|yaml)$/,
      /^\/asyncapi\.yaml$/,
      /^\/problems(\/:slug)?$/,
      /^\/(internal\/console|portal)$/,
      /^\/ui\/(console|portal)\.(js|css)$/,
      /^\/ui\/facet-logo\.svg$/,
    ];

    test('every route the gateway serves is in a spec or on the infrastructure allow-list, and every operation has its route', () => {
      assert.ok(routes.length > operations.length, `only ${routes.length} routes seen`);
      const documented = new Set(operations.map((op) => `${op.method} ${toFastifyPath(op.path)}`));
      const undocumented = routes
        .filter((r) => r.method !== 'HEAD' || !documented.has(`GET ${r.url}`))
        .filter((r) => !documented.has(`${r.method} ${r.url}`))
        .filter((r) => !INFRASTRUCTURE.some((pattern) => pattern.test(r.url)))
        .map((r) => `${r.method} ${r.url}`);
      assert.deepEqual(undocumented, [], 'routes no spec documents');
      const served = new Set(routes.map((r) => `${r.method} ${r.url}`));
      assert.deepEqual([...documented].filter((d) => !served.has(d)), [], 'operations without a route');
    });

    test('the served specs are the specs in the repository', async () => {
      for (const [path, name] of [['/openapi.json', 'seller'], ['/internal/openapi.json', 'internal']] as const) {
        const answer = await http.send({ method: 'GET', path, headers: {} });
        assert.deepEqual(answer.json, specs[name]);
      }
    });
  });
});

/** The example's ids swapped for the seller's own (so only the field under test is wrong). */
function withOwnIds(value: unknown, seller: Seller): unknown {
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const prefix = typeof v === 'string' ? /^([a-z]+_)/.exec(v)?.[1] : undefined;
    out[key] = key.endsWith('_id') && prefix && seller.ids.get(prefix)?.[0] ? seller.ids.get(prefix)?.[0] : withOwnIds(v, seller);
  }
  return out;
}

describe('OWASP API4 and API2 with the shipped limits: quotas, price jobs and key guessing fire', () => {
  let stack: Stack;
  let http: Http;
  before(async () => {
    await clearRedis();
    stack = await startStack({ redisUrl: REDIS_URL, mutateConfig: (doc) => (doc.quota.invalidKeyAttempts = 5) });
    http = new Http(stack.url);
  });
  after(async () => {
    await http?.close();
    await stack?.close();
  });

  test('API4: a free seller past its rate and burst gets 429 FACET_ERR_QUOTA_EXCEEDED with Retry-After and RateLimit headers', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => http.send({ method: 'GET', path: '/v1/usage', headers: { 'x-api-key': 'demo-free-key' } })));
    const refused = answers.filter((a) => a.status === 429);
    assert.ok(refused.length > 0 && refused.length < 40, `429s: ${refused.length} of 40`);
    const one = refused[0] as Answer;
    assert.equal((one.json as Json).code, 'FACET_ERR_QUOTA_EXCEEDED');
    assert.ok(Number(one.headers['retry-after']) >= 1);
    assert.ok(one.headers.ratelimit && one.headers['ratelimit-policy']);
  });

  test('API4: concurrent price jobs are capped by plan (standard: 5)', async () => {
    const key = { 'x-api-key': 'demo-pro-key' };
    const model = await http.send({ method: 'POST', path: '/v1/models', headers: { ...key, 'content-type': 'application/octet-stream' }, body: binaryStl(40, 31) });
    assert.equal(model.status, 201, model.text);
    const answers = await Promise.all(
      [10, 11, 12, 13, 14, 15, 16].map((size_mm) =>
        http.send({ method: 'POST', path: '/v1/quotes', headers: { ...key, 'content-type': 'application/json' }, body: JSON.stringify({ model_id: (model.json as Json).id, parameters: { ...PARAMETERS, size_mm } }) }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [202, 202, 202, 202, 202, 429, 429]);
    assert.equal((answers.find((a) => a.status === 429)?.json as Json).code, 'FACET_ERR_PRICE_JOBS_LIMIT');
  });

  test('API2: key guessing is throttled per address: after 5 unknown keys even a valid key gets 429 until Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await http.send({ method: 'GET', path: '/v1/usage', headers: { 'x-api-key': `guess-${i}` } })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    const valid = await http.send({ method: 'GET', path: '/v1/usage', headers: { 'x-api-key': 'demo-enterprise-key' } });
    assert.equal(valid.status, 429);
    assert.equal((valid.json as Json).code, 'FACET_ERR_AUTH_THROTTLED');
    assert.ok(Number(valid.headers['retry-after']) > 60);
  });
});

/** `METHOD /fastify/:path` of every route whose pipeline ends in `proxy`: the reads that consume a CRM/MES answer. */
function proxiedRoutes(doc: Json): Set<string> {
  const out = new Set<string>();
  const apiEndpoints = doc.apiEndpoints as Record<string, { paths: string[]; methods: string[] }>;
  for (const pipeline of Object.values(doc.pipelines as Record<string, { apiEndpoints: string[]; policies: Json[] }>)) {
    if (!pipeline.policies.some((policy) => 'proxy' in policy)) continue;
    for (const name of pipeline.apiEndpoints) {
      const endpoint = apiEndpoints[name];
      for (const path of endpoint?.paths ?? []) for (const method of endpoint?.methods ?? []) out.add(`${method} ${path}`);
    }
  }
  return out;
}

describe('OWASP API10 Unsafe Consumption of APIs: odd upstream answers never reach the client', () => {
  const MARKER = 'UPSTREAM-SECRET-7f3a';
  let mode = 0;
  // `shape`: a well-formed JSON success of the wrong shape (or too large for a relayed answer).
  const modes: { status: number; type: string; body: string; headers?: Record<string, string>; shape?: boolean }[] = [
    { status: 500, type: 'text/html', body: `<html><body>${MARKER} java.lang.NullPointerException at com.mes.Orders.list(Orders.java:42)</body></html>` },
    { status: 500, type: 'application/json', body: JSON.stringify({ error: MARKER, stack: 'at Object.<anonymous> (/srv/crm/index.js:1:1)' }) },
    { status: 503, type: 'application/json', body: `{"error":"${MARKER}"` },
    { status: 200, type: 'application/json', body: `not json ${MARKER}` },
    { status: 200, type: 'application/json', body: JSON.stringify({ items: MARKER, next_cursor: 7 }), shape: true },
    { status: 200, type: 'application/json', body: JSON.stringify({ items: [{ id: MARKER, seller_id: 'slr_0002', internal_url: `http://10.0.0.5/${MARKER}` }], next_cursor: null, materials: [{ id: MARKER, secret: MARKER }] }), shape: true },
    { status: 200, type: 'text/plain', body: MARKER },
    { status: 400, type: 'application/json', body: JSON.stringify({ error: MARKER }) },
    { status: 302, type: 'text/plain', body: MARKER, headers: { location: 'http://169.254.169.254/latest/meta-data/' } },
    { status: 200, type: 'application/json', body: `{"items":[${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]}`, shape: true },
  ];
  /** Answered instead of modes[mode] while set. */
  let override: { status: number; type: string; body: string; headers?: Record<string, string> } | undefined;
  let upstream: Server;
  let stack: Stack;
  let http: Http;
  let proxied = new Set<string>();
  const PENDING_QUOTE = 'qt_api10pending';
  /** Path ids that exist (by prefix): the rest match their pattern and exist nowhere. */
  const existing: Record<string, string> = { qt_: PENDING_QUOTE };

  before(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      if (req.url?.endsWith('/healthz')) return res.end('ok');
      const m = override ?? (modes[mode] as (typeof modes)[number]);
      res.writeHead(m.status, { 'content-type': m.type, 'x-internal-host': `db-1.${MARKER}`, server: `secret-server/${MARKER}`, ...m.headers });
      res.end(m.body);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const address = upstream.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await clearRedis();
    stack = await startStack({
      redisUrl: REDIS_URL,
      mutateConfig: (doc) => {
        proxied = proxiedRoutes(doc as Json);
        for (const name of ['crm', 'mes']) {
          doc.serviceEndpoints[name].url = url;
          // Keep the breakers closed so every odd answer is handled, not short-circuited.
          doc.serviceEndpoints[name].resilience.breaker = { failureRateThreshold: 0.99, samplingDurationMs: 1000, minimumRps: 100_000, halfOpenAfterMs: 1000 };
        }
      },
    });
    http = new Http(stack.url);
    // A pending quote of demo-pro-key's seller: reading it polls the MES for its price job.
    const now = new Date().toISOString();
    await records.quote.put(stack.gateway.services.state, {
      id: PENDING_QUOTE,
      seller_id: 'slr_0002',
      status: 'pending',
      model_id: 'mdl_zzzzzzzzzzzz',
      sha256: 'f'.repeat(64),
      parameters: { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' },
      price: null,
      error: null,
      price_job_id: 'pj_zzzzzzzzzzzz',
      created_at: now,
      updated_at: now,
    });
  });
  after(async () => {
    await http?.close();
    await stack?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  /**
   * Every read (with path ids that match their pattern) under each selected
   * upstream answer. With `badResponse`, a read that consumes the upstream's
   * answer (its pipeline ends in `proxy`) must be exactly 502
   * FACET_ERR_UPSTREAM_BAD_RESPONSE; the others answer on their own.
   */
  async function check(t: { diagnostic(message: string): void }, selected: number[], badResponse: boolean): Promise<void> {
    // Event streams never end, and relay no upstream answer: not reads for this check.
    const reads = operations.filter((op) => op.method === 'GET' && op.secured && !op.streaming);
    const upstreamReads = reads.filter((op) => proxied.has(`GET ${toFastifyPath(op.path)}`));
    for (const operationId of ['listOrders', 'getOrder', 'getQuote', 'listMaterials', 'listDashboardOrders']) {
      assert.ok(upstreamReads.some((op) => op.operationId === operationId), `${operationId} is a read of an upstream answer`);
    }
    const statuses: number[] = [];
    for (const index of selected) {
      mode = index;
      const m = modes[index] as (typeof modes)[number];
      for (const op of reads) {
        const credentials: Record<string, string> = op.spec === 'seller' ? { 'x-api-key': 'demo-pro-key' } : { authorization: `Bearer ${stack.operatorToken}` };
        // A distinct page size per mode: no answer comes from the cache.
        const limited = op.parameters.some((p) => p.name === 'limit');
        const ids: Record<string, string> = {};
        for (const p of op.parameters.filter((p) => p.in === 'path')) ids[p.name] = encodeURIComponent(existing[idPrefix(p.schema.pattern) ?? ''] ?? missingId(p.schema.pattern));
        const answer = await http.send({ method: 'GET', path: `${fillPath(op.path, ids)}${limited ? `?limit=${index + 1}` : ''}`, headers: credentials });
        statuses.push(answer.status);
        const where = `mode ${index} (${m.status} ${m.type}) ${op.operationId}`;
        assert.ok(!answer.text.includes(MARKER) && !Object.values(answer.headers).some((v) => v.includes(MARKER)), `${where}: the upstream's words reached the client: ${answer.status} ${answer.text.slice(0, 200)}`);
        assert.notEqual(answer.status, 500, `${where}: ${answer.text}`);
        assert.ok(answer.status < 300 || answer.status >= 400, `${where}: ${answer.status}`);
        assert.deepEqual(conformanceErrors(op, answer).filter((e) => !e.startsWith('5xx')), [], where);
        if (badResponse && upstreamReads.includes(op)) {
          assert.equal(answer.status, 502, `${where}: ${answer.text.slice(0, 300)}`);
          assert.equal(isObject(answer.json) && answer.json.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE', where);
          assert.match(String(isObject(answer.json) && answer.json.detail), /^(crm|mes) (sent .* that does not match its contract|sent .* larger than its contract allows|answered with a body that is not JSON)$/, where);
        }
      }
    }
    t.diagnostic(`odd upstream answers: ${selected.length} × ${reads.length} reads (${upstreamReads.length} of upstream answers) → ${[...new Set(statuses)].sort().join(', ')}`);
    assert.equal(statuses.length, selected.length * reads.length);
  }

  test('upstream errors, error pages, redirects and non-JSON become a clean problem+json, without the upstream’s words', async (t) => {
    await check(t, [...modes.keys()].filter((i) => !modes[i]?.shape), false);
  });

  test('a broken CRM record of another seller answers 404 like a missing order (no existence oracle); the seller’s own broken record is a 502', async () => {
    const broken = (sellerId: string) => ({ status: 200, type: 'application/json', body: JSON.stringify({ id: 'ord_brokenrec01', seller_id: sellerId, status: MARKER, customer: MARKER }) });
    try {
      override = { status: 404, type: 'application/json', body: JSON.stringify({ error: 'not found' }) };
      const missing = await http.send({ method: 'GET', path: '/v1/orders/ord_brokenrec01', headers: { 'x-api-key': 'demo-pro-key' } });
      override = broken('slr_0001');
      const others = await http.send({ method: 'GET', path: '/v1/orders/ord_brokenrec01', headers: { 'x-api-key': 'demo-pro-key' } });
      assert.equal(others.status, 404, others.text);
      const strip = (json: unknown) => ({ ...(json as Json), request_id: undefined, trace_id: undefined });
      assert.deepEqual(strip(others.json), strip(missing.json), 'the same answer as for a missing order');
      assert.ok(!others.text.includes(MARKER));
      override = broken('slr_0002');
      const own = await http.send({ method: 'GET', path: '/v1/orders/ord_brokenrec01', headers: { 'x-api-key': 'demo-pro-key' } });
      assert.equal(own.status, 502, own.text);
      assert.equal(isObject(own.json) && own.json.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
    } finally {
      override = undefined;
    }
  });

  test('a JSON success of the wrong shape becomes 502, not 500: every read of an upstream answer, the relayed catalogue included', async (t) => {
    const violations = async (upstream: string) => {
      const metrics = await http.send({ method: 'GET', path: '/metrics', headers: {} });
      return Number(new RegExp(`facet_upstream_requests_total\\{upstream="${upstream}",outcome="contract_violation"\\} (\\d+)`).exec(metrics.text)?.[1] ?? 0);
    };
    const before = { crm: await violations('crm'), mes: await violations('mes') };
    await check(t, [...modes.keys()].filter((i) => modes[i]?.shape), true);
    // Counted where upstream failures are counted: one per answer outside the contract, never retried.
    for (const upstream of ['crm', 'mes'] as const) assert.ok((await violations(upstream)) > before[upstream], `${upstream}: facet_upstream_requests_total{outcome="contract_violation"}`);
  });
});
