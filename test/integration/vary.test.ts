// Answers that depend on the caller's credential say so: `Vary` names the
// credential header (X-API-Key for sellers, Authorization for operators), on
// a cache miss and a hit, on a 304 and on a refusal, so a browser's private
// cache (the portal's Try it out) never shows one seller's page for another
// key. Before, cached answers carried `Cache-Control: private, max-age=N`
// and no Vary at all.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };

function varies(res: request.Response, header: string): boolean {
  return String(res.headers.vary ?? '')
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .includes(header.toLowerCase());
}

describe('Vary on the credential header', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ orderCount: 50 });
  });
  after(() => stack.close());

  it('a seller\'s cached read: miss, hit and 304 all vary on X-API-Key', async () => {
    const miss = await request(stack.url).get('/v1/orders?limit=3').set(PRO).expect(200);
    assert.match(String(miss.headers['cache-status']), /fwd=miss/);
    assert.ok(varies(miss, 'X-API-Key'), `miss: vary=${miss.headers.vary}`);
    assert.match(String(miss.headers['cache-control']), /private/);
    const hit = await request(stack.url).get('/v1/orders?limit=3').set(PRO).expect(200);
    assert.match(String(hit.headers['cache-status']), /hit/);
    assert.ok(varies(hit, 'X-API-Key'), `hit: vary=${hit.headers.vary}`);
    const notModified = await request(stack.url).get('/v1/orders?limit=3').set(PRO).set('If-None-Match', String(hit.headers.etag)).expect(304);
    assert.ok(varies(notModified, 'X-API-Key'), `304: vary=${notModified.headers.vary}`);
    // Named once, however many layers add it.
    assert.equal(String(hit.headers.vary).toLowerCase().split('x-api-key').length, 2);
  });

  it('other seller answers and refusals vary on X-API-Key too', async () => {
    const materials = await request(stack.url).get('/v1/materials').set(PRO);
    assert.ok(varies(materials, 'X-API-Key'), `materials: vary=${materials.headers.vary}`);
    const refused = await request(stack.url).get('/v1/orders').set('X-API-Key', 'not-a-key').expect(401);
    assert.ok(varies(refused, 'X-API-Key'), `401: vary=${refused.headers.vary}`);
  });

  it('the operators\' cached dashboard: miss and hit vary on Authorization', async () => {
    const auth = { Authorization: `Bearer ${stack.operatorToken}` };
    const first = await request(stack.url).get('/internal/v1/dashboard/orders?limit=7').set(auth).expect(200);
    assert.ok(varies(first, 'Authorization'), `first: vary=${first.headers.vary}`);
    const second = await request(stack.url).get('/internal/v1/dashboard/orders?limit=7').set(auth).expect(200);
    assert.match(String(second.headers['cache-status']), /hit/);
    assert.ok(varies(second, 'Authorization'), `hit: vary=${second.headers.vary}`);
    const refused = await request(stack.url).get('/internal/v1/dashboard/orders').expect(401);
    assert.ok(varies(refused, 'Authorization'), `401: vary=${refused.headers.vary}`);
  });
});
