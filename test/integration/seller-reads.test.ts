import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const FREE = { 'X-API-Key': 'demo-free-key' };

interface PublicOrder {
  id: string;
  status: string;
  created_at: string;
  [key: string]: unknown;
}

function newestFirst(items: PublicOrder[]): boolean {
  return items.every((o, i) => i === 0 || (items[i - 1] as PublicOrder).created_at >= o.created_at);
}

describe('seller API, read side (gateway + real simulators)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack.close());

  it('lists only the seller’s own orders, newest first, with public fields only', async () => {
    const res = await request(stack.url).get('/v1/orders').set(PRO).expect(200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    const items = res.body.items as PublicOrder[];
    assert.equal(items.length, 20);
    assert.ok(newestFirst(items));
    const crmIds = new Set(stack.crm.store.listOrders({ sellerId: 'slr_0002', limit: 500 }).items.map((o) => o.id));
    for (const o of items) {
      assert.ok(crmIds.has(o.id), `${o.id} is not slr_0002's`);
      assert.equal('seller_id' in o, false);
      assert.equal('operator_id' in o, false);
    }
    assert.equal(typeof res.body.next_cursor, 'string');
  });

  it('walks pages with the cursor: no duplicates, no gaps, order kept', async () => {
    const seen: PublicOrder[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 4; page++) {
      const query: Record<string, string | number> = { limit: 37 };
      if (cursor) query.cursor = cursor;
      const res = await request(stack.url).get('/v1/orders').query(query).set(PRO).expect(200);
      seen.push(...res.body.items);
      cursor = res.body.next_cursor;
    }
    assert.equal(seen.length, 148);
    assert.equal(new Set(seen.map((o) => o.id)).size, 148);
    assert.ok(newestFirst(seen));
    const direct = stack.crm.store.listOrders({ sellerId: 'slr_0002', limit: 148 }).items.map((o) => o.id);
    assert.deepEqual(seen.map((o) => o.id), direct);
  });

  it('filters by status and creation time on the server', async () => {
    const res = await request(stack.url)
      .get('/v1/orders?status=SHIPPED&status=PACKAGING&created_from=2026-09-01T00:00:00Z&created_to=2026-10-15T00:00:00Z&limit=100')
      .set(PRO)
      .expect(200);
    const items = res.body.items as PublicOrder[];
    assert.ok(items.length > 0);
    for (const o of items) {
      assert.ok(['SHIPPED', 'PACKAGING'].includes(o.status));
      assert.ok(o.created_at >= '2026-09-01T00:00:00Z' && o.created_at < '2026-10-15T00:00:00Z');
    }
  });

  it('gets one order; another seller’s order is a 404 exactly like a missing one', async () => {
    const list = await request(stack.url).get('/v1/orders?limit=1').set(PRO).expect(200);
    const id = list.body.items[0].id as string;
    const own = await request(stack.url).get(`/v1/orders/${id}`).set(PRO).expect(200);
    assert.equal(own.body.id, id);
    assert.equal('seller_id' in own.body, false);

    const foreign = await request(stack.url).get(`/v1/orders/${id}`).set(FREE);
    const missing = await request(stack.url).get('/v1/orders/ord_zzzzzzzzzzzz').set(FREE);
    const a = assertProblem(foreign, 404, 'FACET_ERR_NOT_FOUND');
    const b = assertProblem(missing, 404, 'FACET_ERR_NOT_FOUND');
    assert.deepEqual({ ...a, detail: undefined, instance: undefined, request_id: undefined }, { ...b, detail: undefined, instance: undefined, request_id: undefined });
  });

  it('serves the material catalogue streamed through from the MES', async () => {
    const res = await request(stack.url).get('/v1/materials').set(FREE).expect(200);
    assert.ok(Array.isArray(res.body.materials) && res.body.materials.length === 5);
    assert.equal(res.headers.server, undefined);
  });

  describe('bad input: a clear 4xx problem naming the field, never a 5xx', () => {
    const cases: [string, number, string, string][] = [
      ['/v1/orders?limit=0', 400, 'FACET_ERR_VALIDATION', 'query.limit'],
      ['/v1/orders?limit=101', 400, 'FACET_ERR_VALIDATION', 'query.limit'],
      ['/v1/orders?limit=abc', 400, 'FACET_ERR_VALIDATION', 'query.limit'],
      // ajv coerces these to Infinity and 16; Infinity used to pass `maximum` and reach the CRM (502). Found by fuzzing.
      ['/v1/orders?limit=1e999', 400, 'FACET_ERR_VALIDATION', 'query.limit'],
      ['/v1/orders?limit=0x10', 400, 'FACET_ERR_VALIDATION', 'query.limit'],
      ['/v1/orders?limit=5&limit=1e999', 400, 'FACET_ERR_VALIDATION', 'query.limit'],
      ['/v1/orders?sort=price', 400, 'FACET_ERR_VALIDATION', 'query.sort'],
      ['/v1/orders?status=LOST', 400, 'FACET_ERR_VALIDATION', 'query.status[0]'],
      ['/v1/orders?created_from=yesterday', 400, 'FACET_ERR_VALIDATION', 'query.created_from'],
      ['/v1/orders?created_from=2026-10-02T00:00:00Z&created_to=2026-10-01T00:00:00Z', 400, 'FACET_ERR_VALIDATION', 'query.created_to'],
      ['/v1/orders?cursor=not-a-cursor', 400, 'FACET_ERR_VALIDATION', 'query.cursor'],
      [`/v1/orders?cursor=${Buffer.from('{"t":"x","i":"../../etc"}').toString('base64url')}`, 400, 'FACET_ERR_VALIDATION', 'query.cursor'],
      ['/v1/orders?cursor=%2F%2E%2E', 400, 'FACET_ERR_VALIDATION', 'query.cursor'],
      ['/v1/orders/..%2F..%2Fetc%2Fpasswd', 400, 'FACET_ERR_VALIDATION', 'path.id'],
      ['/v1/orders/ord_abc%00def12', 400, 'FACET_ERR_VALIDATION', 'path.id'],
      ['/v1/orders/ORD_ABCDEFGHIJKL', 400, 'FACET_ERR_VALIDATION', 'path.id'],
      [`/v1/orders/ord_${'a'.repeat(100)}`, 400, 'FACET_ERR_VALIDATION', 'path.id'],
      [`/v1/orders/ord_${'a'.repeat(300)}`, 400, 'FACET_ERR_VALIDATION', 'path'],
      ['/v1/orders/%E0%A4%A', 400, 'FACET_ERR_VALIDATION', 'path'],
    ];
    for (const [url, status, code, field] of cases) {
      it(`${url.slice(0, 70)} → ${status} ${field}`, async () => {
        const res = await request(stack.url).get(url).set(PRO);
        const body = assertProblem(res, status, code);
        assert.ok((body.errors as { field: string }[]).some((e) => e.field === field), JSON.stringify(body));
      });
    }

    it('an unknown route or method is a problem+json 404', async () => {
      assertProblem(await request(stack.url).get('/v1/nothing-here').set(PRO), 404, 'FACET_ERR_ROUTE_NOT_FOUND');
      assertProblem(await request(stack.url).delete('/v1/orders').set(PRO), 404, 'FACET_ERR_ROUTE_NOT_FOUND');
    });

    it('a malformed JSON body to a GET route does not break anything', async () => {
      const res = await request(stack.url).get('/v1/orders?limit=1').set(PRO).set('content-type', 'application/json').send('{"oops": ');
      assert.ok(res.status < 500, `got ${res.status}`);
    });
  });

  describe('authentication', () => {
    it('no key → 401 with a challenge', async () => {
      const res = await request(stack.url).get('/v1/orders');
      assertProblem(res, 401, 'FACET_ERR_AUTH_MISSING_KEY');
      assert.match(res.headers['www-authenticate'] ?? '', /ApiKey/);
    });
    it('a wrong key → 401', async () => {
      assertProblem(await request(stack.url).get('/v1/orders').set('X-API-Key', 'demo-pro-key-guess'), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    });
    it('auth runs before validation: bad input without a key is still 401', async () => {
      assertProblem(await request(stack.url).get('/v1/orders?limit=abc'), 401, 'FACET_ERR_AUTH_MISSING_KEY');
    });
  });

  describe('request ids', () => {
    it('echoes a well-formed X-Request-Id and puts it in problems', async () => {
      const res = await request(stack.url).get('/v1/orders/ord_zzzzzzzzzzzz').set(PRO).set('X-Request-Id', 'trace-me-123');
      assert.equal(res.headers['x-request-id'], 'trace-me-123');
      assert.equal(res.body.request_id, 'trace-me-123');
    });
    it('replaces a malformed one', async () => {
      const res = await request(stack.url).get('/healthz').set('X-Request-Id', 'bad id\twith spaces');
      assert.match(res.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    });
  });
});
