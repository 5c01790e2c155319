// A body of a media type its operation does not accept is a 415 problem+json,
// decided once from the spec's requestBody (policies/validate/media-types.ts):
// `text/plain` on a JSON operation was a 400 (Fastify's text parser handed a
// string to the schema), and a take (no requestBody) accepted it with 202.
// Every operation with a body, and every bodiless write, is walked from the
// specs; the upload keeps its own binary types.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { operations } from '../security/contract.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const IDS: Record<string, string> = { id: 'xyz_zzzzzzzzzzzz', delivery_id: 'dlv_zzzzzzzzzzzz' };
const guarded = operations.filter((op) => op.requestBody.size > 0 || !['GET', 'HEAD'].includes(op.method));

describe('415 for a body of a media type the operation does not accept', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ orderCount: 50, webhookPolicy: { requireHttps: false, allowLoopback: true } });
    await stack.gateway.services.bus.consume({ queue: 'test.media.takes', bindings: [{ exchange: 'commands', pattern: 'order.take' }] }, async () => 'ack');
  });
  after(() => stack.close());

  const credentials = (spec: string) => (spec === 'internal' ? { Authorization: `Bearer ${stack.operatorToken}` } : PRO);
  const send = (method: string, path: string, spec: string) =>
    request(stack.url)[method.toLowerCase() as 'post' | 'delete'](path.replace(/\{([^}]+)\}/g, (_m, name: string) => IDS[name] ?? 'x')).set(credentials(spec));

  it('walks the operations: every write is guarded', () => {
    assert.ok(guarded.some((op) => op.operationId === 'takeOrder'));
    assert.ok(guarded.some((op) => op.operationId === 'uploadModel'));
    assert.ok(guarded.length >= 9, guarded.map((op) => op.operationId).join(', '));
  });

  for (const op of guarded) {
    it(`${op.operationId}: text/plain, form and XML bodies → 415 FACET_ERR_UNSUPPORTED_MEDIA_TYPE`, async () => {
      for (const [type, body] of [
        ['text/plain', '{"reason":"text"}'],
        ['application/x-www-form-urlencoded', 'a=1'],
        ['application/xml', '<a/>'],
        ['text/plain', ''],
      ] as const) {
        const res = await send(op.method, op.path, op.spec).set('Content-Type', type).send(body);
        assertProblem(res, 415, 'FACET_ERR_UNSUPPORTED_MEDIA_TYPE');
        assert.equal(res.body.errors?.[0]?.field, 'header.content-type', `${op.operationId} ${type}`);
        assert.ok(op.responses.has('415'), `${op.operationId} documents its 415`);
      }
    });
  }

  it('a take with a text/plain body is refused; with JSON or no body it is the take', async () => {
    const orders = stack.mes.store.orders.page({ limit: 50 }).items.filter((o) => o.operator_id === null && stack.crm.store.getOrder(o.order_id));
    const [first, second] = orders;
    assert.ok(first && second);
    const auth = { Authorization: `Bearer ${stack.operatorToken}` };
    assertProblem(await request(stack.url).post(`/internal/v1/orders/${first.order_id}/take`).set(auth).set('Content-Type', 'text/plain').send('take it'), 415, 'FACET_ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.equal((await request(stack.url).post(`/internal/v1/orders/${first.order_id}/take`).set(auth).send({})).status, 202);
    assert.equal((await request(stack.url).post(`/internal/v1/orders/${second.order_id}/take`).set(auth)).status, 202);
  });

  it('JSON is still JSON (with a charset too), and the upload keeps its binary types', async () => {
    const created = await request(stack.url).post('/v1/webhooks').set(PRO).set('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify({ url: 'http://127.0.0.1:9/hook' }));
    assert.equal(created.status, 201, created.text);
    // A bad JSON body is still the schema's 400, not a 415.
    assertProblem(await request(stack.url).post('/v1/quotes').set(PRO).send({ nonsense: true }), 400, 'FACET_ERR_VALIDATION');
    // JSON is not a model: the upload lists only binary types.
    assertProblem(await request(stack.url).post('/v1/models?filename=a.stl').set(PRO).send({ a: 1 }), 415, 'FACET_ERR_UNSUPPORTED_MEDIA_TYPE');
    const stl = await request(stack.url).post('/v1/models?filename=a.stl').set(PRO).set('Content-Type', 'model/stl').send(Buffer.from('solid x\nendsolid x\n'));
    assert.notEqual(stl.status, 415, stl.text);
    assert.ok(stl.status < 500, stl.text);
  });

  it('reads take no body and are not guarded: a GET with a stray Content-Type still answers', async () => {
    assert.equal((await request(stack.url).get('/v1/materials').set(PRO).set('Content-Type', 'text/plain')).status, 200);
  });
});
