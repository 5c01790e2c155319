// The relayed pass-through (reply-from) under the upstream's breaker and
// bulkhead: no retries, 5xx counted, an open breaker answered without
// calling reply.from, a client that goes away frees its bulkhead slot; and
// the upstream's contract: a 2xx that is not JSON, too large or of the wrong
// shape is a 502 (a breaker failure), fields the contract does not name are
// removed.
//
//   npx node --import tsx --test test/unit/resilience-pass-through.test.ts

import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ResilienceConfig, ServiceEndpointConfig } from '../../platform/upstream/settings.ts';
import { installProblemHandlers } from '../../platform/errors/problem.ts';
import { createMetrics, type GatewayMetrics } from '../../platform/metrics/registry.ts';
import { UpstreamClient } from '../../platform/upstream/client.ts';
import { upstreamOperation } from '../../platform/upstream/contract.ts';
import { passThrough } from '../../policies/proxy/pass-through.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const upstream = {
  url: '',
  calls: 0,
  handler: ((_req, res) => res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"', 'x-internal': 'secret' }).end('{"items":[]}')) as Handler,
  server: createServer((req, res) => {
    upstream.calls++;
    upstream.handler(req, res);
  }),
};
const defaultHandler = upstream.handler;

/** What this test's upstream promises: `{ items: [...] }`, relayed with undeclared fields removed. */
const ITEMS = upstreamOperation<{ items: unknown[] }>({
  name: 'GET /mes/materials',
  what: 'a list',
  responses: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } } } } } } },
  strip: true,
});
const MAX_BYTES = 1024;

interface Gateway {
  app: FastifyInstance;
  url: string;
  client: UpstreamClient;
  metrics: GatewayMetrics;
}

const gateways: Gateway[] = [];

async function gateway(resilience: Partial<ResilienceConfig> = {}, options: { url?: string; timeoutMs?: number; log?: Writable } = {}): Promise<Gateway> {
  const config: ServiceEndpointConfig = {
    url: options.url ?? upstream.url,
    timeoutMs: options.timeoutMs ?? 2_000,
    connections: 8,
    healthPath: '/healthz',
    readiness: 'optional',
    resilience: {
      retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 20 },
      breaker: { failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps: 1_000, halfOpenAfterMs: 60_000 },
      bulkhead: { limit: 16, queue: 4 },
      ...resilience,
    },
  };
  const metrics = createMetrics();
  const client = new UpstreamClient('mes', config, metrics);
  const app = Fastify(options.log ? { logger: { level: 'warn', stream: options.log } } : {});
  installProblemHandlers(app);
  await app.register(replyFrom, { undici: { connections: 8 } });
  app.get('/v1/materials', passThrough({ upstream: client, path: '/mes/materials', timeoutMs: config.timeoutMs, contract: ITEMS, maxBytes: MAX_BYTES }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const g = { app, client, metrics, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  gateways.push(g);
  return g;
}

async function get(g: Gateway): Promise<{ status: number; headers: Headers; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${g.url}/v1/materials?limit=3`);
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, headers: res.headers, body, ms: performance.now() - started };
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function outcome(g: Gateway, name: string): Promise<number> {
  const { values } = await g.metrics.upstreamRequests.get();
  return values.find((v) => v.labels.outcome === name)?.value ?? 0;
}

const EAGER_BREAKER = { failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps: 0.2, halfOpenAfterMs: 30_000 };

describe('pass-through under the breaker and bulkhead', () => {
  before(async () => {
    await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
    upstream.url = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    upstream.server.closeAllConnections();
    for (const g of gateways.splice(0)) {
      await g.app.close();
      await g.client.close();
    }
    upstream.handler = defaultHandler;
    upstream.calls = 0;
  });
  after(() => new Promise<void>((resolve) => upstream.server.close(() => resolve())));

  it('relays a 2xx with only the safe headers', async () => {
    const g = await gateway();
    const res = await get(g);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { items: [] });
    assert.equal(res.headers.get('etag'), '"v1"');
    assert.equal(res.headers.get('x-internal'), null);
    assert.equal(await outcome(g, 'ok'), 1);
  });

  it('an upstream 503 → 502 problem, one call (reply-from does not retry it), counted by the breaker', async () => {
    const g = await gateway({ breaker: EAGER_BREAKER });
    upstream.handler = (_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"secret"}');
    const first = await get(g);
    assert.equal(first.status, 502);
    assert.equal(first.body.code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
    assert.doesNotMatch(JSON.stringify(first.body), /secret/);
    assert.equal(upstream.calls, 1);
    assert.equal((await get(g)).status, 502);
    assert.equal(upstream.calls, 2);
    assert.equal(g.client.resilience.snapshot().breaker, 'open');

    const durations: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await get(g);
      durations.push(res.ms);
      assert.equal(res.status, 503);
      assert.equal(res.body.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);
    }
    assert.equal(upstream.calls, 2, 'reply.from was not called while the breaker is open');
    assert.ok(Math.max(...durations) < 200, `slowest ${Math.max(...durations)} ms over loopback HTTP`);
    assert.equal(await outcome(g, 'server_error'), 2);
    assert.equal(await outcome(g, 'circuit_open'), 10);
  });

  it('upstream refusing connections → 503 UNAVAILABLE; hanging → 504 TIMEOUT', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = await gateway({}, { url: `http://127.0.0.1:${deadPort}` });
    const refused = await get(down);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'FACET_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(refused.headers.get('retry-after'), '5');

    const slow = await gateway({}, { timeoutMs: 100 });
    upstream.handler = () => undefined;
    const hung = await get(slow);
    assert.equal(hung.status, 504);
    assert.equal(hung.body.code, 'FACET_ERR_UPSTREAM_TIMEOUT');
    assert.equal(await outcome(slow, 'timeout'), 1);
  });

  it('bulkhead full → 503 SATURATED; a client that goes away frees its slot', async () => {
    const g = await gateway({ bulkhead: { limit: 1, queue: 0 } });
    upstream.handler = () => undefined; // hold every call
    const gone = httpRequest(`${g.url}/v1/materials`);
    gone.on('error', () => undefined);
    gone.end();
    await until(() => upstream.calls === 1, 'the first call to reach the upstream');
    assert.equal(g.client.resilience.snapshot().bulkhead.executing, 1);
    const saturated = await get(g);
    assert.equal(saturated.status, 503);
    assert.equal(saturated.body.code, 'FACET_ERR_UPSTREAM_SATURATED');
    assert.equal(saturated.headers.get('retry-after'), '1');
    gone.destroy();
    await until(() => g.client.resilience.snapshot().bulkhead.executing === 0, 'the slot to be freed');
    assert.equal(g.client.resilience.snapshot().breaker, 'closed');
    assert.equal(await outcome(g, 'cancelled'), 1);
  });

  it('a client that goes away while queued in the bulkhead never reaches the upstream nor holds a slot', async () => {
    const g = await gateway({ bulkhead: { limit: 1, queue: 1 } });
    const held: (() => void)[] = [];
    upstream.handler = (_req, res) => held.push(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}'));
    const first = get(g);
    await until(() => upstream.calls === 1, 'the first call to reach the upstream');
    const queued = httpRequest(`${g.url}/v1/materials`);
    queued.on('error', () => undefined);
    queued.end();
    await until(() => g.client.resilience.snapshot().bulkhead.queued === 1, 'the second call to queue');
    queued.destroy();
    await sleep(50);
    held.shift()?.();
    assert.equal((await first).status, 200);
    await until(() => g.client.resilience.snapshot().bulkhead.executing === 0, 'the slots to be free');
    assert.deepEqual(g.client.resilience.snapshot().bulkhead, { executing: 0, queued: 0, limit: 1 });
    assert.equal(upstream.calls, 1);
  });

  describe('the upstream contract', () => {
    const MARKER = 'UPSTREAM-SECRET-51c2';
    const answer =
      (body: string | Buffer, headers: Record<string, string> = {}, code = 200): Handler =>
      (_req, res) => {
        res.writeHead(code, { 'content-type': 'application/json', ...headers });
        res.end(body);
      };

    it('fields the contract does not name are removed; the answer is re-serialised (no upstream length or encoding)', async () => {
      const g = await gateway();
      upstream.handler = answer(JSON.stringify({ items: [{ id: 'a', cost_minor: 12, note: MARKER }], internal_url: `http://10.0.0.5/${MARKER}` }), { etag: '"v2"' });
      const res = await fetch(`${g.url}/v1/materials`);
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(text), { items: [{ id: 'a' }] });
      assert.doesNotMatch(text, new RegExp(MARKER));
      assert.equal(res.headers.get('etag'), '"v2"');
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(await outcome(g, 'ok'), 1);
    });

    it('an answer outside the contract is logged at warn with its validation errors (never sent to the client)', async () => {
      const lines: Record<string, unknown>[] = [];
      const log = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      });
      const g = await gateway({}, { log });
      upstream.handler = answer(JSON.stringify({ items: [{ id: 7 }] }));
      const res = await fetch(`${g.url}/v1/materials`);
      assert.equal(res.status, 502);
      assert.equal(((await res.json()) as { detail?: string }).detail, 'mes sent a list that does not match its contract');
      const warn = lines.find((l) => l.msg === 'upstream problem');
      assert.ok(warn, JSON.stringify(lines));
      assert.equal(warn.level, 40);
      assert.deepEqual((warn.err as { problems?: unknown }).problems, ['/items/0/id must be string']);
    });

    it('the upstream is asked for an unencoded GET; a HEAD is answered from a checked GET, without a body', async () => {
      const g = await gateway();
      const seen: { method: string | undefined; encoding: string | undefined }[] = [];
      upstream.handler = (req, res) => {
        seen.push({ method: req.method, encoding: req.headers['accept-encoding'] });
        defaultHandler(req, res);
      };
      const head = await fetch(`${g.url}/v1/materials`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      assert.deepEqual(seen, [{ method: 'GET', encoding: 'identity' }]);
    });

    for (const [label, handler] of [
      ['a wrong shape', answer(JSON.stringify({ items: MARKER }))],
      ['a wrong item', answer(JSON.stringify({ items: [{ id: 7, note: MARKER }] }))],
      ['a JSON type with a body that is not JSON', answer(`not json ${MARKER}`)],
      ['a 200 that is not JSON at all (text/plain)', answer(MARKER, { 'content-type': 'text/plain' })],
      ['a body over the bound, declared', answer(JSON.stringify({ items: [{ id: MARKER.repeat(100) }] }))],
      ['a body over the bound, chunked (no content-length)', (_req: IncomingMessage, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"items":[');
        for (let i = 0; i < 100; i++) res.write(`{"id":"${MARKER}"},`);
        res.end('{"id":"x"}]}');
      }],
      ['an encoding it was not asked for', answer(gzipSync('{"items":[]}'), { 'content-encoding': 'gzip' })],
      ['a 2xx status the contract does not document', answer('{"items":[]}', {}, 203)],
    ] as const) {
      it(`${label} → 502 without the upstream's words or validators, counted by the breaker as a failure`, async () => {
        const g = await gateway({ breaker: EAGER_BREAKER });
        upstream.handler = handler;
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${g.url}/v1/materials`);
          const text = await res.text();
          assert.equal(res.status, 502, text);
          assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
          assert.equal(JSON.parse(text).code, 'FACET_ERR_UPSTREAM_BAD_RESPONSE');
          assert.doesNotMatch(text, new RegExp(MARKER));
          for (const name of ['etag', 'last-modified', 'content-encoding']) assert.equal(res.headers.get(name), null, name);
          assert.equal(res.headers.get('cache-control'), 'no-store');
        }
        assert.equal(await outcome(g, 'contract_violation'), 2);
        assert.equal(g.client.resilience.snapshot().breaker, 'open', 'two answers outside the contract opened the eager breaker');
        assert.equal((await get(g)).body.code, 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN');
        assert.equal(upstream.calls, 2);
      });
    }
  });
});
