import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { PROBLEMS } from '../../platform/errors/catalogue.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { installProblemHandlers, instanceOf, toFacetError } from '../../platform/errors/problem.ts';

function app() {
  const server = Fastify({ bodyLimit: 1024, ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } } });
  installProblemHandlers(server);
  server.post(
    '/things',
    { schema: { body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', maxLength: 5 }, tags: { type: 'array', items: { type: 'string' } } } } } },
    async () => ({ ok: true }),
  );
  server.get('/boom', async () => {
    throw new Error('database password is hunter2');
  });
  return server;
}

describe('problem+json answers (RFC 9457)', () => {
  it('malformed JSON → 400 FACET_ERR_BAD_JSON', async () => {
    const res = await app().inject({ method: 'POST', url: '/things', headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
    assert.equal(res.statusCode, 400);
    assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    assert.equal(res.json().code, 'FACET_ERR_BAD_JSON');
  });
  it('schema errors name the field, with array indexes', async () => {
    const res = await app().inject({ method: 'POST', url: '/things', payload: { name: 'x', tags: ['a', 3, {}] } });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().errors, [{ field: 'body.tags[2]', message: 'must be string' }]);
    const missing = await app().inject({ method: 'POST', url: '/things', payload: { nom: 'x' } });
    assert.equal(missing.json().errors[0].field, 'body.name');
    const extra = await app().inject({ method: 'POST', url: '/things', payload: { name: 'x', price: 1 } });
    assert.deepEqual(extra.json().errors, [{ field: 'body.price', message: 'is not allowed' }]);
  });
  it('wrong content type → 415, oversized body → 413', async () => {
    const wrongType = await app().inject({ method: 'POST', url: '/things', headers: { 'content-type': 'text/csv' }, payload: 'a,b' });
    assert.equal(wrongType.statusCode, 415);
    assert.equal(wrongType.json().code, 'FACET_ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await app().inject({ method: 'POST', url: '/things', payload: { name: 'x'.repeat(5000) } });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'FACET_ERR_BODY_TOO_LARGE');
  });
  it('an unexpected error is a 500 that says nothing about itself', async () => {
    const res = await app().inject({ method: 'GET', url: '/boom' });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().code, 'FACET_ERR_INTERNAL');
    assert.doesNotMatch(res.body, /hunter2|Error|at /);
  });
  it('instance is a valid URI reference even for a path with a stray % (found by the fuzzer: /v1/orders/%ZZ)', () => {
    assert.equal(instanceOf('/v1/orders/%ZZ?x=1'), '/v1/orders/%25ZZ');
    assert.equal(instanceOf('/v1/orders/%E0%A4%A'), '/v1/orders/%E0%A4%25A');
    assert.equal(instanceOf('/v1/orders/ord_abc"<>{}|\\^`'), '/v1/orders/ord_abc%22%3C%3E%7B%7D%7C%5C%5E%60');
    assert.equal(instanceOf('/v1/orders/ord_ok-1.2~_:@'), '/v1/orders/ord_ok-1.2~_:@');
  });
  it('keeps FacetErrors as they are, with their headers', () => {
    const e = new FacetError('FACET_ERR_UPSTREAM_UNAVAILABLE', { headers: { 'retry-after': '5' } });
    assert.equal(toFacetError(e), e);
  });
  it('every code is documented in docs/errors.md with its status', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    for (const [code, kind] of Object.entries(PROBLEMS)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${kind.status} \\|`), `${code} missing from docs/errors.md`);
    }
  });
});
