// Sellers' API keys as a live resource, against the real Redis: operators
// issue, list and revoke; sellers rotate and list their own; keys are
// stored as SHA-256 only; one seller never sees or touches another's keys;
// every change is an audit line.

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { digestOf } from '../../platform/keys/seller-keys.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'x-api-key': 'demo-pro-key' };
const FREE = { 'x-api-key': 'demo-free-key' };
const OVERLAP_SEC = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('seller keys (Redis)', () => {
  let stack: Stack;
  let operator: Record<string, string>;
  const logLines: Record<string, unknown>[] = [];

  before(async () => {
    await clearRedis();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    stack = await startStack({
      redisUrl: REDIS_URL,
      logger: pino({ level: 'info' }, sink),
      mutateConfig: (doc) => {
        doc.keys = { rotationOverlapSec: OVERLAP_SEC };
        doc.plans.free.rate = { perSecond: 1000, burst: 0 };
      },
    });
    operator = { authorization: `Bearer ${stack.operatorToken}` };
  });
  after(async () => {
    await stack?.close();
  });

  const audits = (action: string) => logLines.filter((l) => l.audit === true && l.action === action);

  it('an operator issues a key: 201, shown once, stored as its SHA-256 only, works at once, audited', async () => {
    const issued = await request(stack.url).post('/internal/v1/sellers/slr_0001/keys').set(operator).expect(201);
    const { id, key, seller_id: sellerId } = issued.body as { id: string; key: string; seller_id: string };
    assert.equal(sellerId, 'slr_0001');
    assert.match(key, /^fct_[A-Za-z0-9_-]{32}$/);
    const usage = await request(stack.url).get('/v1/usage').set({ 'x-api-key': key }).expect(200);
    assert.equal(usage.body.seller_id, 'slr_0001');
    // Redis holds the digest, never the key.
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys('facet:keys:*');
      assert.ok(keys.includes(`facet:keys:k:${digestOf(key)}`), keys.join(','));
      for (const name of keys) {
        const value = (await redis.type(name)) === 'hash' ? JSON.stringify(await redis.hgetall(name)) : String(await redis.get(name));
        assert.ok(!value.includes(key) && !name.includes(key), `${name} holds the key`);
      }
    } finally {
      redis.disconnect();
    }
    const listed = await request(stack.url).get('/internal/v1/sellers/slr_0001/keys').set(operator).expect(200);
    const items = listed.body.items as { id: string; source: string; last_used_at: string | null }[];
    assert.deepEqual(items.map((k) => [k.id, k.source]), [['demo-free', 'config'], [id, 'api']]);
    assert.ok(items[1]?.last_used_at, 'the use just made is recorded');
    assert.ok(!JSON.stringify(listed.body).includes(key));
    const [line] = audits('seller_key.created').filter((l) => l.key_id === id);
    assert.equal(line?.actor, 'operator:op_demo');
    assert.equal(line?.seller, 'slr_0001');
    assert.ok(!JSON.stringify(logLines).includes(key), 'the key is never logged');
  });

  it('revoked, the key is refused at once; revoking again or an unknown key is a 404', async () => {
    const { id, key } = (await request(stack.url).post('/internal/v1/sellers/slr_0001/keys').set(operator).expect(201)).body as { id: string; key: string };
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': key }).expect(200);
    await request(stack.url).delete(`/internal/v1/sellers/slr_0001/keys/${id}`).set(operator).expect(204);
    assertProblem(await request(stack.url).get('/v1/usage').set({ 'x-api-key': key }), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    assertProblem(await request(stack.url).delete(`/internal/v1/sellers/slr_0001/keys/${id}`).set(operator), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).delete('/internal/v1/sellers/slr_0001/keys/key_nothing').set(operator), 404, 'FACET_ERR_NOT_FOUND');
    assert.equal(audits('seller_key.revoked').filter((l) => l.key_id === id).length, 1);
  });

  it('bad input is a 4xx problem: unknown seller 404, malformed ids 400, no token 401, a seller key 401', async () => {
    assertProblem(await request(stack.url).post('/internal/v1/sellers/slr_nobody/keys').set(operator), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).get('/internal/v1/sellers/slr_nobody/keys').set(operator), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).get('/internal/v1/sellers/NOT-A-SELLER/keys').set(operator), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).delete('/internal/v1/sellers/slr_0001/keys/has%20space').set(operator), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).post('/internal/v1/sellers/slr_0001/keys'), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
    assertProblem(await request(stack.url).post('/internal/v1/sellers/slr_0001/keys').set(PRO), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
    assertProblem(await request(stack.url).get('/v1/keys'), 401, 'FACET_ERR_AUTH_MISSING_KEY');
    assertProblem(await request(stack.url).get('/v1/keys?limit=1').set(PRO), 400, 'FACET_ERR_VALIDATION');
  });

  it('a seller rotates its key: the predecessor works inside the overlap and not after; audited', async () => {
    const first = (await request(stack.url).post('/internal/v1/sellers/slr_0001/keys').set(operator).expect(201)).body as { id: string; key: string };
    const rotated = await request(stack.url).post('/v1/keys/rotate').set({ 'x-api-key': first.key }).expect(201);
    const next = rotated.body as { id: string; key: string; previous: { id: string; expires_at: string } };
    assert.equal(next.previous.id, first.id);
    assert.notEqual(next.key, first.key);
    const ends = Date.parse(next.previous.expires_at);
    assert.ok(ends > Date.now() && ends <= Date.now() + OVERLAP_SEC * 1000 + 1000);
    // Inside the overlap both work; the listing shows the end of the old one.
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': first.key }).expect(200);
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': next.key }).expect(200);
    const own = (await request(stack.url).get('/v1/keys').set({ 'x-api-key': next.key }).expect(200)).body.items as { id: string; expires_at: string | null }[];
    assert.equal(own.find((k) => k.id === first.id)?.expires_at, next.previous.expires_at);
    assert.equal(own.find((k) => k.id === next.id)?.expires_at, null);
    // After it, the old key is refused (memo ≤ 500 ms included); the new one works.
    await sleep(Math.max(0, ends - Date.now()) + 700);
    const refused = assertProblem(await request(stack.url).get('/v1/usage').set({ 'x-api-key': first.key }), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    assert.match(String(refused.detail), /expired/);
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': next.key }).expect(200);
    assert.ok(!((await request(stack.url).get('/v1/keys').set({ 'x-api-key': next.key }).expect(200)).body.items as { id: string }[]).some((k) => k.id === first.id));
    const [line] = audits('seller_key.rotated').filter((l) => l.key_id === next.id);
    assert.equal(line?.actor, 'seller:slr_0001');
    assert.equal(line?.previous_key_id, first.id);
  });

  it('a config key can be rotated too: it ends after the overlap', async () => {
    const rotated = (await request(stack.url).post('/v1/keys/rotate').set(FREE).expect(201)).body as { key: string; previous: { id: string; expires_at: string } };
    assert.equal(rotated.previous.id, 'demo-free');
    await request(stack.url).get('/v1/usage').set(FREE).expect(200);
    await sleep(Math.max(0, Date.parse(rotated.previous.expires_at) - Date.now()) + 700);
    assertProblem(await request(stack.url).get('/v1/usage').set(FREE), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': rotated.key }).expect(200);
  });

  it('a seller never sees or touches another seller’s keys', async () => {
    const theirs = (await request(stack.url).post('/internal/v1/sellers/slr_0003/keys').set(operator).expect(201)).body as { id: string; key: string };
    const mine = (await request(stack.url).get('/v1/keys').set(PRO).expect(200)).body.items as { id: string }[];
    assert.deepEqual(mine.map((k) => k.id), ['demo-pro']);
    assert.ok(!JSON.stringify(mine).includes(theirs.id));
    // Rotation acts on the calling key only: slr_0002's rotation leaves slr_0003's key alone.
    const rotated = (await request(stack.url).post('/v1/keys/rotate').set(PRO).expect(201)).body as { key: string; previous: { id: string } };
    assert.equal(rotated.previous.id, 'demo-pro');
    const usage = await request(stack.url).get('/v1/usage').set({ 'x-api-key': rotated.key }).expect(200);
    assert.equal(usage.body.seller_id, 'slr_0002');
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': theirs.key }).expect(200);
    const theirList = (await request(stack.url).get('/v1/keys').set({ 'x-api-key': theirs.key }).expect(200)).body.items as { id: string; expires_at: string | null }[];
    assert.deepEqual(theirList.map((k) => [k.id, k.expires_at]).sort(), [['demo-enterprise', null], [theirs.id, null]].sort());
    // Sellers have no route to the operators' key API.
    assertProblem(await request(stack.url).delete(`/internal/v1/sellers/slr_0003/keys/${theirs.id}`).set(PRO), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
  });
});

describe('seller keys in process (no Redis: the embedded default)', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ mutateConfig: (doc) => (doc.keys = { rotationOverlapSec: 0 }) });
  });
  after(async () => {
    await stack?.close();
  });

  it('issue, use, rotate (no overlap: the old key ends at once) and revoke, all in process', async () => {
    const operator = { authorization: `Bearer ${stack.operatorToken}` };
    const issued = (await request(stack.url).post('/internal/v1/sellers/slr_0002/keys').set(operator).expect(201)).body as { id: string; key: string };
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': issued.key }).expect(200);
    const rotated = (await request(stack.url).post('/v1/keys/rotate').set({ 'x-api-key': issued.key }).expect(201)).body as { id: string; key: string };
    assertProblem(await request(stack.url).get('/v1/usage').set({ 'x-api-key': issued.key }), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    await request(stack.url).get('/v1/usage').set({ 'x-api-key': rotated.key }).expect(200);
    const listed = (await request(stack.url).get('/internal/v1/sellers/slr_0002/keys').set(operator).expect(200)).body.items as { id: string }[];
    assert.deepEqual(listed.map((k) => k.id), ['demo-pro', rotated.id]);
    await request(stack.url).delete(`/internal/v1/sellers/slr_0002/keys/${rotated.id}`).set(operator).expect(204);
    assertProblem(await request(stack.url).get('/v1/usage').set({ 'x-api-key': rotated.key }), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    // A config key revoked through the API is refused, and listed no more.
    await request(stack.url).delete('/internal/v1/sellers/slr_0002/keys/demo-pro').set(operator).expect(204);
    assertProblem(await request(stack.url).get('/v1/usage').set(PRO), 401, 'FACET_ERR_AUTH_INVALID_KEY');
    assert.deepEqual((await request(stack.url).get('/internal/v1/sellers/slr_0002/keys').set(operator).expect(200)).body.items, []);
  });
});

describe('seller keys: a bounded number per seller', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });

  it('issuing or rotating past 20 working keys is a 409 problem; a revocation makes room', async () => {
    const operator = { authorization: `Bearer ${stack.operatorToken}` };
    // slr_0003 holds its config key: 19 more fill it.
    const issued: string[] = [];
    for (let i = 0; i < 19; i++) issued.push(((await request(stack.url).post('/internal/v1/sellers/slr_0003/keys').set(operator).expect(201)).body as { id: string }).id);
    assertProblem(await request(stack.url).post('/internal/v1/sellers/slr_0003/keys').set(operator), 409, 'FACET_ERR_KEY_LIMIT');
    assertProblem(await request(stack.url).post('/v1/keys/rotate').set({ 'x-api-key': 'demo-enterprise-key' }), 409, 'FACET_ERR_KEY_LIMIT');
    assert.equal(((await request(stack.url).get('/v1/keys').set({ 'x-api-key': 'demo-enterprise-key' }).expect(200)).body.items as unknown[]).length, 20);
    await request(stack.url).delete(`/internal/v1/sellers/slr_0003/keys/${issued[0]}`).set(operator).expect(204);
    await request(stack.url).post('/v1/keys/rotate').set({ 'x-api-key': 'demo-enterprise-key' }).expect(201);
  });
});
