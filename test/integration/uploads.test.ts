// POST /v1/models under its own policy (issue 15, item 7): a slow but
// steady upload is not cut by the MES's per-attempt timeout; an idle client
// gets 408; uploads have their own bulkhead; a client's slowness or abort
// never counts as an MES failure, so it cannot open the MES breaker.

import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { binaryStl } from '../helpers/models.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const MES_TIMEOUT_MS = 1_000; // the old per-attempt timeout, small so the test need not wait 10 s
const IDLE_MS = 3_000;
const UPLOAD_SLOTS = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const parameters = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' };

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
}

/** A raw upload the test paces itself: `send` writes, `answer` resolves with the gateway's answer. */
function openUpload(url: string, length?: number): { req: ClientRequest; answer: Promise<Answer> } {
  const req = httpRequest(`${url}/v1/models`, {
    method: 'POST',
    headers: { ...PRO, 'content-type': 'application/octet-stream', 'x-filename': 'slow.stl', ...(length !== undefined && { 'content-length': String(length) }) },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
  });
  answer.catch(() => {}); // aborted on purpose in some tests
  return { req, answer };
}

async function until(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('model uploads: their own policy', () => {
  let stack: Stack;
  let modelId = '';
  const mes = () => stack.gateway.services.upstreams.get('mes').resilience;

  before(async () => {
    stack = await startStack({
      mutateConfig: (doc) => {
        doc.serviceEndpoints.mes.timeoutMs = MES_TIMEOUT_MS;
        // The MES breaker as easy to open as it gets: one failure a second at 50 %.
        doc.serviceEndpoints.mes.resilience = { retry: { maxAttempts: 0 }, breaker: { failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps: 1, halfOpenAfterMs: 30_000 }, bulkhead: { limit: 2, queue: 0 } };
        doc.serviceEndpoints.mes.uploads = { idleTimeoutMs: IDLE_MS, maxDurationMs: 120_000, bulkhead: { limit: UPLOAD_SLOTS, queue: 0 } };
        doc.plans.standard.rate = { perSecond: 1000, burst: 1000 };
        // No background MES calls (the dashboard's refresh-ahead) to sway the breaker this test reads.
        for (const step of doc.pipelines.operatorDashboard.policies as Record<string, { action?: Record<string, unknown> }>[]) delete step.cache?.action?.refreshAhead;
      },
    });
    modelId = (await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').send(binaryStl(20)).expect(201)).body.id;
  });
  after(() => stack.close());

  it('a slow but steady upload (3 MB over ~3 s, past the MES per-attempt timeout) → 201', async () => {
    const file = binaryStl(60_000); // 3,000,084 bytes
    const { req, answer } = openUpload(stack.url, file.length);
    const chunk = 100_000;
    for (let at = 0; at < file.length; at += chunk) {
      req.write(file.subarray(at, at + chunk));
      await sleep(100); // ~1 MB/s
    }
    req.end();
    const res = await answer;
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.size_bytes, file.length);
    assert.equal(mes().breaker.state, 0, 'breaker closed'); // CircuitState.Closed
    // Nor does its duration count as MES latency for the adaptive limit (load-shed).
    const metrics = (await request(stack.url).get('/metrics').expect(200)).text;
    const recent = Number(/facet_shed_rtt_recent_seconds\{upstream="mes"\} ([0-9.e+-]+)/.exec(metrics)?.[1]);
    assert.ok(recent < 1, `the MES's recent RTT for the adaptive limit: ${recent} s`);
  });

  it('a client that stops sending → 408 problem+json FACET_ERR_UPLOAD_IDLE', async () => {
    const file = binaryStl(20_000);
    const { req, answer } = openUpload(stack.url, file.length);
    req.write(file.subarray(0, 100_000));
    const res = await answer; // no more bytes: the idle timeout answers
    req.destroy();
    assert.equal(res.status, 408);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.body.code, 'FACET_ERR_UPLOAD_IDLE');
  });

  it('uploads have their own bulkhead: uploads in flight do not take the other MES writes’ slots, nor those theirs', async () => {
    const held = Array.from({ length: UPLOAD_SLOTS }, () => {
      const upload = openUpload(stack.url, 1_000_000);
      upload.req.write(binaryStl(10).subarray(0, 500));
      return upload;
    });
    // A trickle keeps them alive (never idle) for as long as this test needs their slots.
    const trickle = setInterval(() => {
      for (const { req } of held) if (!req.destroyed) req.write(Buffer.alloc(10));
    }, 300);
    try {
      await until('the uploads to hold their slots', () => mes().uploadBulkhead.executionSlots === 0);
      const third = await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').send(binaryStl(20));
      assertProblem(third, 503, 'FACET_ERR_UPSTREAM_SATURATED');
      // An ordinary MES write meanwhile: its own slots are free.
      await request(stack.url).post('/v1/quotes').set(PRO).send({ model_id: modelId, parameters }).expect(202);
    } finally {
      clearInterval(trickle);
      for (const { req } of held) req.destroy();
    }
    await until('the held uploads to end', () => mes().uploadBulkhead.executionSlots === UPLOAD_SLOTS);
    // The other way round: the MES writes' slots all taken, an upload still goes through.
    let release = () => {};
    const blocker = new Promise<void>((r) => (release = r));
    const pinned = [mes().bulkhead.execute(() => blocker), mes().bulkhead.execute(() => blocker)];
    try {
      assert.equal(mes().bulkhead.executionSlots, 0);
      await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').send(binaryStl(30)).expect(201);
    } finally {
      release();
      await Promise.all(pinned);
    }
  });

  it('many aborted and stalled uploads never open the MES breaker: an ordinary MES write still succeeds', async () => {
    const before = stack.mes.requests.get('POST /mes/price-jobs') ?? 0;
    for (let round = 0; round < 4; round++) {
      const uploads = Array.from({ length: UPLOAD_SLOTS }, () => openUpload(stack.url, 2_000_000));
      for (const { req } of uploads) req.write(binaryStl(2_000).subarray(0, 50_000));
      await until('the uploads to reach the MES', () => mes().uploadBulkhead.executionSlots === 0);
      uploads[0]!.req.destroy(); // the client goes away
      const stalled = await uploads[1]!.answer; // the client stalls
      uploads[1]!.req.destroy();
      assert.equal(stalled.status, 408);
      await until('the aborted upload to end', () => mes().uploadBulkhead.executionSlots === UPLOAD_SLOTS);
    }
    assert.equal(mes().breaker.state, 0, 'the MES breaker is still closed'); // CircuitState.Closed
    // The departed clients are answered (and counted) 499, not as an MES failure.
    const metrics = (await request(stack.url).get('/metrics').expect(200)).text;
    assert.match(metrics, /facet_http_request_duration_seconds_count\{route="\/v1\/models",method="POST",status="499",plan="standard"\} [1-9]/);
    assert.doesNotMatch(metrics, /facet_upstream_requests_total\{upstream="mes",outcome="(timeout|unavailable|server_error)"\}/);
    const quote = await request(stack.url).post('/v1/quotes').set(PRO).send({ model_id: modelId, parameters: { ...parameters, size_mm: 19 } });
    assert.equal(quote.status, 202, JSON.stringify(quote.body));
    assert.equal(stack.mes.requests.get('POST /mes/price-jobs'), before + 1);
  });
});
