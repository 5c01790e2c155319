// The specs are complete where an OpenAPI linter with the OWASP rules looks:
// every array is bounded (maxItems); every operation documents its 500 and
// 431, and its 415 when it takes a body (or is a write the media-type guard
// covers); every seller error answered after the quota step documents the
// RateLimit headers it carries in practice (checked against the real app);
// no text says webhooks come later. Before, none of this held.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { deref, isObject, specs, type Json, type SpecName } from '../security/contract.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** Every schema node of a document (outside examples), with its JSON path. */
function* schemaNodes(node: unknown, path: string[] = []): Generator<[string, Json]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* schemaNodes(item, [...path, String(i)]);
    return;
  }
  if (!isObject(node)) return;
  yield [path.join('.'), node];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples') continue; // example values, not schemas
    yield* schemaNodes(value, [...path, key]);
  }
}

function isArraySchema(node: Json): boolean {
  return node.type === 'array' || (Array.isArray(node.type) && node.type.includes('array'));
}

interface Op {
  spec: SpecName;
  id: string;
  method: string;
  path: string;
  raw: Json;
}

function operations(): Op[] {
  const out: Op[] = [];
  for (const spec of ['seller', 'internal'] as const) {
    for (const [path, item] of Object.entries(specs[spec].paths as Json)) {
      for (const [method, raw] of Object.entries(deref(specs[spec], item))) {
        if (METHODS.includes(method) && isObject(raw)) out.push({ spec, id: String(raw.operationId), method: method.toUpperCase(), path, raw });
      }
    }
  }
  return out;
}

const responsesOf = (op: Op): Json => (op.raw.responses as Json | undefined) ?? {};
const headersOf = (op: Op, status: string): Json => (deref(specs[op.spec], responsesOf(op)[status]).headers as Json | undefined) ?? {};

describe('the specs are complete (OWASP linter rules)', () => {
  it('every array has maxItems, in both specs', () => {
    const unbounded: string[] = [];
    for (const spec of ['seller', 'internal'] as const) {
      for (const [path, node] of schemaNodes(specs[spec])) if (isArraySchema(node) && typeof node.maxItems !== 'number') unbounded.push(`${spec}: ${path}`);
    }
    assert.deepEqual(unbounded, []);
  });

  it('the walk finds an array without maxItems (the check can fail)', () => {
    const found = [...schemaNodes({ components: { schemas: { X: { type: 'array', items: {} }, Y: { type: ['array', 'null'], maxItems: 3 } } } })].filter(([, n]) => isArraySchema(n) && n.maxItems === undefined);
    assert.deepEqual(found.map(([p]) => p), ['components.schemas.X']);
  });

  it('every operation documents its 500 and 431, and its 415 when it takes a body or is a write', () => {
    const missing: string[] = [];
    for (const op of operations()) {
      const responses = responsesOf(op);
      const expected = ['431', '500'];
      if (op.raw.requestBody !== undefined || !['GET', 'HEAD'].includes(op.method)) expected.push('415');
      for (const status of expected) if (!(status in responses)) missing.push(`${op.id} ${status}`);
    }
    assert.deepEqual(missing, []);
  });

  it('every seller error answered after the quota step documents RateLimit and RateLimit-Policy', () => {
    // Answered before the quota counts: 401 (key-auth), 431 (Node's parser), a shed or draining 503 (GatewayUnavailable).
    const before = (op: Op, status: string) => status === '401' || status === '431' || (responsesOf(op)[status] as Json).$ref === '#/components/responses/GatewayUnavailable';
    const missing: string[] = [];
    const sellerOps = operations().filter((o) => o.spec === 'seller' && o.raw.security === undefined);
    assert.ok(sellerOps.length >= 15, `seller operations under the key: ${sellerOps.length}`);
    for (const op of sellerOps) {
      for (const status of Object.keys(responsesOf(op))) {
        if (Number(status) < 400 || before(op, status)) continue;
        const headers = headersOf(op, status);
        for (const name of ['RateLimit', 'RateLimit-Policy']) if (!(name in headers)) missing.push(`${op.id} ${status} ${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('no text says webhooks come in a later version', () => {
    for (const spec of ['seller', 'internal'] as const) assert.doesNotMatch(JSON.stringify(specs[spec]), /later version/i, spec);
  });
});

describe('RateLimit on errors, in practice', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ orderCount: 20, webhookPolicy: { requireHttps: false, allowLoopback: false } });
  });
  after(() => stack.close());

  it('the errors a seller gets after the quota step carry RateLimit headers, and their operations document them', async () => {
    const key = { 'X-API-Key': 'demo-pro-key' };
    const cases: [string, string, () => request.Test][] = [
      ['listOrders', '400', () => request(stack.url).get('/v1/orders?limit=1000').set(key)],
      ['getOrder', '404', () => request(stack.url).get('/v1/orders/ord_zzzzzzzzzzzz').set(key)],
      ['createQuote', '415', () => request(stack.url).post('/v1/quotes').set(key).set('content-type', 'text/plain').send('x')],
      ['createQuote', '413', () => request(stack.url).post('/v1/quotes').set(key).set('content-type', 'application/json').send(JSON.stringify({ a: 'x'.repeat(2_000_000) }))],
      ['createWebhook', '422', () => request(stack.url).post('/v1/webhooks').set(key).send({ url: 'http://10.0.0.1/x' })],
      ['deleteWebhook', '404', () => request(stack.url).delete('/v1/webhooks/wh_zzzzzzzzzzzz').set(key)],
    ];
    const ops = operations();
    for (const [id, status, send] of cases) {
      const res = await send();
      assert.equal(String(res.status), status, `${id}: ${res.text.slice(0, 200)}`);
      assert.ok(res.headers.ratelimit && res.headers['ratelimit-policy'], `${id} ${status} carries RateLimit headers`);
      const op = ops.find((o) => o.id === id);
      assert.ok(op);
      const documented = headersOf(op, status);
      assert.ok('RateLimit' in documented && 'RateLimit-Policy' in documented, `${id} ${status} documents them`);
    }
  });
});
