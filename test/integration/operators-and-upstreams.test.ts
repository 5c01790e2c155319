import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import request from 'supertest';
import { assertProblem, startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

function token(claims: Record<string, unknown>, expiresIn = '5m', key: Uint8Array = secret): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('op_7').setIssuedAt().setExpirationTime(expiresIn).sign(key);
}

describe('operators, upstream failures, health and docs', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      mutateConfig: (doc) => {
        doc.serviceEndpoints.crm.timeoutMs = 300;
        doc.serviceEndpoints.crm.readiness = 'required';
        doc.serviceEndpoints.mes.timeoutMs = 300;
      },
    });
  });
  afterEach(async () => {
    await Promise.all([stack.crm.faults.reset(), stack.mes.faults.reset()]);
  });
  after(() => stack.close());

  describe('internal dashboard (jwt-auth)', () => {
    it('an operator token sees the dashboard, newest first', async () => {
      const res = await request(stack.url).get('/internal/v1/dashboard/orders?limit=5').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
      assert.equal(res.body.items.length, 5);
      const times = res.body.items.map((o: { created_at: string }) => o.created_at);
      assert.deepEqual(times, [...times].sort().reverse());
      const filtered = await request(stack.url).get('/internal/v1/dashboard/orders?status=PACKAGING&limit=10').set('Authorization', `Bearer ${stack.operatorToken}`).expect(200);
      assert.ok(filtered.body.items.every((o: { status: string }) => o.status === 'PACKAGING'));
    });
    it('filters by seller and by a half-open creation range, and pages within it (the console filters)', async () => {
      const get = async (query: string) =>
        (await request(stack.url).get(`/internal/v1/dashboard/orders?${query}`).set('Authorization', `Bearer ${stack.operatorToken}`).expect(200)).body as { items: { seller_id: string; created_at: string }[]; next_cursor: string | null };
      const seller = await get('seller_id=slr_0002&limit=20');
      assert.ok(seller.items.length > 0 && seller.items.every((o) => o.seller_id === 'slr_0002'));
      // A window of a few orders in the middle of the list: every page stays inside it, and the last one says so.
      const all = (await get('limit=100')).items;
      const to = (all[10] as { created_at: string }).created_at;
      const from = (all[40] as { created_at: string }).created_at;
      const seen: { created_at: string }[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const page = await get(`created_from=${from}&created_to=${to}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.items);
        cursor = page.next_cursor;
        if (!cursor) break;
      }
      assert.equal(cursor, null, 'the range ends');
      assert.ok(seen.length >= 25, `${seen.length} orders in the window`);
      assert.ok(seen.every((o) => o.created_at >= from && o.created_at < to), 'created_from inclusive, created_to exclusive');
      assert.deepEqual(seen.map((o) => o.created_at), all.filter((o) => o.created_at >= from && o.created_at < to).map((o) => o.created_at));
      assertProblem(await request(stack.url).get(`/internal/v1/dashboard/orders?created_from=${to}&created_to=${from}`).set('Authorization', `Bearer ${stack.operatorToken}`), 400, 'FACET_ERR_VALIDATION');
      assertProblem(await request(stack.url).get('/internal/v1/dashboard/orders?seller_id=nobody').set('Authorization', `Bearer ${stack.operatorToken}`), 400, 'FACET_ERR_VALIDATION');
      for (const bad of ['yesterday', '2026-06-30T23:59:60Z']) {
        for (const field of ['created_from', 'created_to']) {
          assertProblem(await request(stack.url).get(`/internal/v1/dashboard/orders?${field}=${encodeURIComponent(bad)}`).set('Authorization', `Bearer ${stack.operatorToken}`), 400, 'FACET_ERR_VALIDATION');
        }
      }
    });
    it('a seller key on /internal is refused', async () => {
      assertProblem(await request(stack.url).get('/internal/v1/dashboard/orders').set(PRO), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
      assertProblem(await request(stack.url).get('/internal/v1/dashboard/orders').set('Authorization', 'Bearer demo-pro-key'), 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
    });
    it('a valid token without the operator role is 403', async () => {
      assertProblem(await request(stack.url).get('/internal/v1/dashboard/orders').set('Authorization', `Bearer ${await token({ role: 'seller' })}`), 403, 'FACET_ERR_AUTH_FORBIDDEN');
    });
    it('expired, wrongly signed, unsigned and RS256-with-HS256-key tokens are 401', async () => {
      const expired = await token({ role: 'operator' }, '-1m');
      const wrongKey = await token({ role: 'operator' }, '5m', new TextEncoder().encode('another-secret-that-is-long-enough-000'));
      const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
      const payload = Buffer.from(JSON.stringify({ role: 'operator', sub: 'x' })).toString('base64url');
      const unsigned = `${header}.${payload}.`;
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const rs = await new SignJWT({ role: 'operator' }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(privateKey);
      for (const t of [expired, wrongKey, unsigned, rs]) {
        const res = await request(stack.url).get('/internal/v1/dashboard/orders').set('Authorization', `Bearer ${t}`);
        assertProblem(res, 401, 'FACET_ERR_AUTH_INVALID_TOKEN');
      }
    });
    it('validates internal queries too', async () => {
      const res = await request(stack.url).get('/internal/v1/dashboard/orders?limit=1000').set('Authorization', `Bearer ${stack.operatorToken}`);
      assertProblem(res, 400, 'FACET_ERR_VALIDATION');
      // Coerced by ajv to Infinity, this used to pass `maximum` and answer 502 from the MES (found by fuzzing).
      const infinite = await request(stack.url).get('/internal/v1/dashboard/orders?limit=1e999').set('Authorization', `Bearer ${stack.operatorToken}`);
      assertProblem(infinite, 400, 'FACET_ERR_VALIDATION');
    });
  });

  describe('upstream failures never leak and never look like client errors', () => {
    it('CRM refusing connections → 503 with Retry-After', async () => {
      await stack.crm.faults.set({ down: true });
      const res = await request(stack.url).get('/v1/orders').set(PRO);
      assertProblem(res, 503, 'FACET_ERR_UPSTREAM_UNAVAILABLE');
      assert.equal(res.headers['retry-after'], '5');
    });
    it('CRM answering 500 → 502 without the upstream body', async () => {
      await stack.crm.faults.set({ error_rate: 1 });
      const res = await request(stack.url).get('/v1/orders/ord_zzzzzzzzzzzz').set(PRO);
      assertProblem(res, 502, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.doesNotMatch(res.text, /simulated|stack|at /);
    });
    it('CRM hanging → 504 after the configured timeout', async () => {
      await stack.crm.faults.set({ hang: true });
      const started = Date.now();
      const res = await request(stack.url).get('/v1/orders').set(PRO);
      assertProblem(res, 504, 'FACET_ERR_UPSTREAM_TIMEOUT');
      assert.ok(Date.now() - started < 3000);
    });
    it('pass-through: MES answering 500 → 502 problem, not the MES body', async () => {
      await stack.mes.faults.set({ error_rate: 1 });
      const res = await request(stack.url).get('/v1/materials').set(PRO);
      assertProblem(res, 502, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
      assert.doesNotMatch(res.text, /simulated/);
    });
    it('pass-through: MES down → 503, MES hanging → 504', async () => {
      await stack.mes.faults.set({ down: true });
      assertProblem(await request(stack.url).get('/v1/materials').set(PRO), 503, 'FACET_ERR_UPSTREAM_UNAVAILABLE');
      await stack.mes.faults.set({ down: false, hang: true });
      assertProblem(await request(stack.url).get('/v1/materials').set(PRO), 504, 'FACET_ERR_UPSTREAM_TIMEOUT');
    });
    it('recovers as soon as the upstream is back', async () => {
      await stack.crm.faults.set({ down: true });
      await request(stack.url).get('/v1/orders').set(PRO).expect(503);
      await stack.crm.faults.set({ down: false });
      await request(stack.url).get('/v1/orders').set(PRO).expect(200);
    });
  });

  describe('health', () => {
    it('/healthz is alive, /readyz lists each dependency', async () => {
      await request(stack.url).get('/healthz').expect(200, { status: 'ok' });
      const ready = await request(stack.url).get('/readyz').expect(200);
      assert.equal(ready.body.status, 'ready');
      assert.equal(ready.body.checks.crm.status, 'up');
      assert.equal(ready.body.checks.crm.required, true);
      assert.equal(ready.body.checks.mes.required, false);
    });
    it('/readyz is 503 when a required dependency is down, 200 when only an optional one is', async () => {
      await stack.mes.faults.set({ down: true });
      const optional = await request(stack.url).get('/readyz').expect(200);
      assert.equal(optional.body.checks.mes.status, 'down');
      await stack.crm.faults.set({ down: true });
      const required = await request(stack.url).get('/readyz').expect(503);
      assert.equal(required.body.status, 'not_ready');
    });
  });

  describe('docs portal', () => {
    it('serves Swagger UI and the specs for both APIs', async () => {
      const ui = await request(stack.url).get('/docs/').expect(200);
      assert.match(ui.text, /swagger/i);
      await request(stack.url).get('/internal/docs/').expect(200);
      const seller = await request(stack.url).get('/openapi.json').expect(200);
      assert.equal(seller.body.openapi, '3.1.0');
      assert.ok(seller.body.paths['/v1/orders']);
      const yaml = await request(stack.url).get('/openapi.yaml').expect(200);
      assert.match(yaml.text, /^openapi: 3\.1\.0/m);
      const internal = await request(stack.url).get('/internal/openapi.json').expect(200);
      assert.ok(internal.body.paths['/internal/v1/dashboard/orders']);
      const swaggerJson = await request(stack.url).get('/docs/json').expect(200);
      assert.equal(swaggerJson.body.info.title, seller.body.info.title);
    });
    it('every problem type URI resolves', async () => {
      const res = await request(stack.url).get('/problems').expect(200);
      for (const p of res.body.problems as { slug: string }[]) await request(stack.url).get(`/problems/${p.slug}`).expect(200);
    });
  });

  it('headers larger than the server accepts → 431 problem+json', async () => {
    const { port } = new URL(stack.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET /v1/orders HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-pro-key\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 431 /);
    assert.match(raw, /content-type: application\/problem\+json/i);
    assert.match(raw, /"code":"FACET_ERR_HEADERS_TOO_LARGE"/);
    // Like every other answer, it carries the request id its body quotes (found by fuzzing) and is not cached.
    const requestId = /"request_id":"([^"]+)"/.exec(raw)?.[1];
    assert.ok(requestId && raw.toLowerCase().includes(`x-request-id: ${requestId}`), raw.slice(0, 400));
    assert.match(raw, /cache-control: no-store/i);
    assert.match(raw, /x-content-type-options: nosniff/i);
  });
});
