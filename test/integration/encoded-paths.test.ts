// A percent-encoded path reaches the operation the router matched: the
// terminal step picks its handler by the route's OpenAPI operation, and
// conditions see the path decoded as the router decoded it. (Before, the
// terminal step matched the raw path against its own conditions again:
// `rotate%2Dsecret` reached createWebhook and answered 500, `/v1/%6Frders`
// reached getOrder and answered "No order undefined".)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };

describe('percent-encoded paths', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ orderCount: 200, webhookPolicy: { requireHttps: false, allowLoopback: true } });
  });
  after(() => stack.close());

  it('POST /v1/webhooks/{id}/rotate%2Dsecret is the rotation: an unknown webhook is a 404, not a 500', async () => {
    assertProblem(await request(stack.url).post('/v1/webhooks/wh_000000000000/rotate%2Dsecret').set(PRO).send({}), 404, 'FACET_ERR_NOT_FOUND');
  });

  it('rotates a real webhook through the encoded path, as through the plain one', async () => {
    const created = await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: 'http://127.0.0.1:9/hook' }).expect(201);
    const rotated = await request(stack.url).post(`/v1/webhooks/${created.body.id}/rotate%2Dsecret`).set(PRO).send({ overlap_seconds: 0 }).expect(200);
    assert.match(rotated.body.secret, /^whsec_/);
  });

  it('GET /v1/%6Frders lists orders like GET /v1/orders', async () => {
    const encoded = await request(stack.url).get('/v1/%6Frders?limit=2').set(PRO).expect(200);
    const plain = await request(stack.url).get('/v1/orders?limit=2').set(PRO).expect(200);
    assert.deepEqual(encoded.body, plain.body);
  });

  it('GET /v1/orders/%6Frd_x reads the order ord_x (unknown here: 404 naming it)', async () => {
    const res = await request(stack.url).get('/v1/orders/%6Frd_zzzzzzzzzzzz').set(PRO);
    assertProblem(res, 404, 'FACET_ERR_NOT_FOUND');
    assert.match(res.body.detail, /ord_zzzzzzzzzzzz/);
  });

  it('other encodings: every operation reached through an encoded path answers as through the plain one, none 5xx', async () => {
    const created = await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: 'http://127.0.0.1:9/hook' }).expect(201);
    const id = created.body.id as string;
    const cases: [string, string, number][] = [
      ['GET', `/v1/webhooks/${id}/%64eliveries`, 200],
      ['GET', `/v1/webhooks/%77h_000000000000/deliveries`, 404],
      ['GET', '/v1/%77ebhooks', 200],
      ['GET', '/v1/%6D%61terials', 200],
      ['GET', '/v1/orders/%6Frd_zzzzzzzzzzzz', 404],
      // Double encoding is not decoded twice: no such route.
      ['GET', '/v1/%256Frders', 404],
      ['POST', '/v1/webhooks/wh_000000000000/rotate%252Dsecret', 404],
      // An encoded separator is not a separator.
      ['GET', `/v1/webhooks%2F${id}`, 404],
      ['POST', `/v1/webhooks/${id}%2Frotate-secret`, 404],
      ['DELETE', `/v1/%77ebhooks/${id}`, 204],
    ];
    for (const [method, path, status] of cases) {
      const res = await request(stack.url)[method === 'GET' ? 'get' : method === 'POST' ? 'post' : 'delete'](path).set(PRO).send(method === 'GET' ? undefined : {});
      assert.equal(res.status, status, `${method} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
    }
  });

  it('an operator take through an encoded path is the take (t%61ke), recorded for the token\'s operator', async () => {
    await stack.gateway.services.bus.consume({ queue: 'test.encoded.takes', bindings: [{ exchange: 'commands', pattern: 'order.take' }] }, async () => 'ack');
    const order = stack.mes.store.orders.page({ limit: 200 }).items.find((o) => o.operator_id === null && stack.crm.store.getOrder(o.order_id));
    assert.ok(order);
    const res = await request(stack.url).post(`/internal/v1/orders/${order.order_id}/t%61ke`).set('Authorization', `Bearer ${stack.operatorToken}`).send({});
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.order_id, order.order_id);
    assertProblem(await request(stack.url).post('/internal/v1/orders/ord_zzzzzzzzzzzz/t%61ke').set('Authorization', `Bearer ${stack.operatorToken}`).send({}), 404, 'FACET_ERR_NOT_FOUND');
  });
});
