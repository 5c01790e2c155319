// One order, one trace: the write path in a child process whose SDK keeps
// spans in memory (fixtures/order-stack.ts), driven over HTTP from here like
// a seller would, with the seller's own traceparent.

import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { demoOperatorToken } from '../../entries/demo.ts';
import { binaryStl } from '../helpers/models.ts';
import type { CrmRequest, DumpedSpan } from './fixtures/order-stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Dump {
  spans: DumpedSpan[];
  logs: string[];
  crm: CrmRequest[];
}

class Child {
  readonly process: ChildProcess;
  private readonly waiting = new Map<string, (message: Record<string, unknown>) => void>();
  stderr = '';

  constructor() {
    this.process = fork('test/telemetry/fixtures/order-stack.ts', [], {
      execArgv: ['--import', './test/telemetry/fixtures/register-memory.ts'],
      env: { ...process.env, FACET_TEST_SERVICE: 'facet-test', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.process.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.process.on('message', (message: Record<string, unknown>) => {
      const waiter = this.waiting.get(message.cmd as string);
      this.waiting.delete(message.cmd as string);
      waiter?.(message);
    });
  }

  next(cmd: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const exited = (code: number | null): void => reject(new Error(`child exited (${code}) waiting for "${cmd}"\n${this.stderr}`));
      const timer = setTimeout(() => reject(new Error(`no "${cmd}" from the child within ${timeoutMs} ms\n${this.stderr}`)), timeoutMs);
      this.process.once('exit', exited);
      this.waiting.set(cmd, (message) => {
        clearTimeout(timer);
        this.process.off('exit', exited);
        resolve(message);
      });
    });
  }

  async dump(): Promise<Dump> {
    const answer = this.next('dump');
    this.process.send({ cmd: 'dump' });
    return (await answer) as unknown as Dump;
  }
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** The span tree of one trace, as text (for the report and for failures). */
function render(spans: DumpedSpan[], traceId: string): string {
  const mine = spans.filter((s) => s.traceId === traceId);
  const children = new Map<string | undefined, DumpedSpan[]>();
  const ids = new Set(mine.map((s) => s.spanId));
  for (const s of mine) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: string[] = [];
  const walk = (parent: string | undefined, depth: number): void => {
    for (const s of children.get(parent) ?? []) {
      const link = s.links.length > 0 ? ` (link → ${s.links.map((l) => l.spanId).join(',')})` : '';
      out.push(`${'  '.repeat(depth)}${s.name} [${SpanKind[s.kind]}, ${s.scope}, ${String(s.attributes['facet.component'] ?? '-')}] ${s.spanId}${link}`);
      walk(s.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return out.join('\n');
}

describe('tracing: one order, one trace (gateway → RabbitMQ → saga → CRM/MES)', () => {
  let child: Child;
  let url = '';
  const traceId = hex(16);
  const callerSpanId = hex(8);
  let orderId = '';
  let modelId = '';
  let dumped: Dump;

  before(async () => {
    child = new Child();
    url = (await child.next('ready')).url as string;
    const model = await fetch(`${url}/v1/models`, { method: 'POST', headers: { ...PRO, 'content-type': 'application/octet-stream' }, body: binaryStl(30) });
    assert.equal(model.status, 201);
    modelId = ((await model.json()) as { id: string }).id;
    const placed = await fetch(`${url}/v1/orders`, {
      method: 'POST',
      headers: { ...PRO, 'content-type': 'application/json', 'idempotency-key': `otel-${hex(4)}`, traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify({
        model_id: modelId,
        parameters: { material: 'silver_925', size_mm: 18, finish: 'polished' },
        customer: { name: 'Trace Test', email: 'trace.test@example.com' },
        shipping: { name: 'Trace Test', line1: '1 Span Street', city: 'Paris', postal_code: '75001', country: 'FR' },
      }),
    });
    assert.equal(placed.status, 202, await placed.clone().text());
    orderId = ((await placed.json()) as { id: string }).id;
    // Until the MES has shipped it: pricing, approval and every manufacturing stage resumed the saga.
    for (let i = 0; i < 200; i++) {
      dumped = await child.dump();
      const shipped = dumped.spans.some((s) => s.name === 'saga manufacturing' && s.events.includes('saga.checkpoint:completed'));
      if (shipped) break;
      await sleep(100);
    }
  });
  after(async () => {
    if (!child?.process.connected) return;
    const exited = new Promise((resolve) => child.process.once('exit', resolve));
    child.process.send({ cmd: 'stop' });
    await Promise.race([exited, sleep(10_000)]);
    child.process.kill('SIGKILL');
  });

  const inTrace = (): DumpedSpan[] => dumped.spans.filter((s) => s.traceId === traceId);
  const one = (predicate: (s: DumpedSpan) => boolean, label: string): DumpedSpan => {
    const found = inTrace().filter(predicate);
    assert.ok(found.length >= 1, `no ${label} in the trace:\n${render(dumped.spans, traceId)}`);
    return found[0] as DumpedSpan;
  };
  const parentOf = (s: DumpedSpan): DumpedSpan | undefined => dumped.spans.find((p) => p.spanId === s.parentSpanId);
  const ancestors = (s: DumpedSpan): DumpedSpan[] => {
    const out: DumpedSpan[] = [];
    for (let p = parentOf(s); p; p = parentOf(p)) out.push(p);
    return out;
  };

  it('continues the seller’s traceparent: the gateway’s server span is its child', () => {
    const server = one((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/v1/orders', 'POST /v1/orders server span');
    assert.equal(server.parentSpanId, callerSpanId);
    assert.equal(server.attributes['facet.component'], 'gateway');
    // One span for the request (named like an HTTP server span), not an http server span with @fastify/otel's request and handler spans under it.
    assert.equal(server.name, 'POST /v1/orders');
    assert.equal(inTrace().filter((s) => s.parentSpanId === callerSpanId).length, 1, render(dumped.spans, traceId));
    assert.equal(parentOf(one((s) => s.name === 'publish order.place', 'publish span')), server, 'the publish is the server span’s child');
    if (process.env.FACET_TEST_PRINT_TRACE === '1') console.log(render(dumped.spans, traceId));
  });

  it('server → publish order.place → process order.place → saga place → CRM client → CRM server span', () => {
    const server = one((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/v1/orders', 'gateway server span');
    const publish = one((s) => s.kind === SpanKind.PRODUCER && s.name === 'publish order.place', 'publish span');
    assert.ok(ancestors(publish).includes(server), 'publish under the gateway request');
    assert.equal(publish.attributes['messaging.system'], 'rabbitmq');
    const consume = one((s) => s.kind === SpanKind.CONSUMER && s.name === 'process order.place', 'consume span');
    assert.equal(consume.parentSpanId, publish.spanId, 'consume is the child of the publish (traceparent in the AMQP headers)');
    assert.equal(consume.attributes['facet.component'], 'adapters');
    const saga = one((s) => s.name === 'saga place', 'saga span');
    assert.equal(saga.parentSpanId, consume.spanId);
    assert.equal(saga.attributes['facet.order_id'], orderId);
    assert.ok(saga.events.includes('saga.checkpoint:crm_created'), saga.events.join());
    const crmServer = one((s) => s.kind === SpanKind.SERVER && s.attributes['facet.component'] === 'crm-sim' && s.attributes['http.route'] === '/crm/orders', 'CRM server span');
    const crmClient = parentOf(crmServer);
    assert.ok(crmClient && crmClient.kind === SpanKind.CLIENT, 'CRM server span under an HTTP client span');
    assert.ok(ancestors(crmClient).includes(saga), 'the CRM call is the saga’s');
    const mesServer = one((s) => s.kind === SpanKind.SERVER && s.attributes['facet.component'] === 'mes-sim' && s.attributes['http.route'] === '/mes/price-jobs', 'MES price job server span');
    assert.ok(ancestors(mesServer).includes(saga));
  });

  it('the saga resumed later (quote, manufacturing) stays in the trace and links to the order’s first span', () => {
    const first = one((s) => s.name === 'saga place', 'saga place');
    const quote = one((s) => s.name === 'saga quote', 'saga quote (resumed on quote.ready)');
    assert.ok(quote.links.some((l) => l.spanId === first.spanId && l.attributes['facet.link'] === 'saga.origin'), JSON.stringify(quote.links));
    // Its parent is the message that resumed it: MES event → MES adapter → quote.ready.
    assert.equal(parentOf(quote)?.name, 'process quote.ready');
    assert.ok(ancestors(quote).some((s) => s.name === 'process mes.legacy.PriceJobCompleted'), render(dumped.spans, traceId));
    const manufacturing = inTrace().filter((s) => s.name === 'saga manufacturing');
    assert.ok(manufacturing.length >= 1);
    assert.ok(manufacturing.every((s) => s.links.some((l) => l.spanId === first.spanId)));
    one((s) => s.kind === SpanKind.SERVER && s.attributes['facet.component'] === 'mes-sim' && s.attributes['http.route'] === '/mes/manufacturing', 'MES manufacturing server span');
  });

  it('gateway, adapters, CRM and MES spans share the one trace', () => {
    const components = new Set(inTrace().map((s) => s.attributes['facet.component']));
    for (const c of ['gateway', 'adapters', 'crm-sim', 'mes-sim']) assert.ok(components.has(c), `${c} missing: ${[...components].join()}`);
    assert.ok(inTrace().some((s) => s.scope === '@opentelemetry/instrumentation-ioredis'), 'saga state writes traced');
    assert.ok(inTrace().every((s) => s.service === 'facet-test'));
  });

  it('a sampled read: server span → the upstream client’s span → CRM server span, the CRM’s traceparent naming the client span', async () => {
    const readTrace = hex(16);
    const callerSpan = hex(8);
    const id = `ord_${hex(6)}`;
    const res = await fetch(`${url}/v1/orders/${id}`, { headers: { ...PRO, traceparent: `00-${readTrace}-${callerSpan}-01` } });
    await res.arrayBuffer();
    await sleep(50);
    const { spans, crm } = await child.dump();
    const mine = spans.filter((s) => s.traceId === readTrace);
    const server = mine.find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/v1/orders/:id');
    assert.ok(server, render(spans, readTrace));
    assert.equal(server.parentSpanId, callerSpan);
    const clients = mine.filter((s) => s.kind === SpanKind.CLIENT);
    // One client span for the one call: the upstream client's own (platform/telemetry/upstream-span.ts), none from instrumentation-undici.
    assert.deepEqual(clients.map((s) => s.scope), ['facet-upstream'], render(spans, readTrace));
    const client = clients[0]!;
    assert.equal(client.parentSpanId, server.spanId, 'the CRM call is the server span’s child');
    assert.equal(client.attributes['facet.component'], 'gateway');
    assert.equal(client.name, 'GET');
    assert.equal(client.attributes['facet.upstream'], 'crm');
    assert.equal(client.attributes['http.request.method'], 'GET');
    assert.match(String(client.attributes['url.full']), new RegExp(`^http://127\\.0\\.0\\.1:\\d+/crm/orders/${id}$`));
    // The CRM does not know the order: a 4xx is an error of the client span (HTTP conventions), and its type is the status.
    assert.equal(client.attributes['http.response.status_code'], 404);
    assert.equal(client.attributes['error.type'], '404');
    assert.equal(client.status, SpanStatusCode.ERROR);
    const crmServer = mine.find((s) => s.kind === SpanKind.SERVER && s.attributes['facet.component'] === 'crm-sim');
    assert.equal(crmServer?.parentSpanId, client.spanId, render(spans, readTrace));
    const received = crm.filter((r) => r.url.includes(id)).map((r) => r.traceparent);
    assert.deepEqual(received, [`00-${readTrace}-${client.spanId}-01`]);
  });

  it('an unsampled read: nothing recorded, and the CRM still gets the trace with the sampled flag 0, under the gateway’s span', async () => {
    const readTrace = hex(16);
    const callerSpan = hex(8);
    const id = `ord_${hex(6)}`;
    const res = await fetch(`${url}/v1/orders/${id}`, { headers: { ...PRO, traceparent: `00-${readTrace}-${callerSpan}-00` } });
    await res.arrayBuffer();
    await sleep(50);
    const { spans, crm, logs } = await child.dump();
    assert.deepEqual(spans.filter((s) => s.traceId === readTrace), [], 'an unsampled trace records no span, in the gateway or the CRM');
    const received = crm.filter((r) => r.url.includes(id)).map((r) => r.traceparent);
    assert.equal(received.length, 1, JSON.stringify(crm.slice(-5)));
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(received[0] ?? '');
    assert.ok(match, `traceparent to the CRM: ${received[0]}`);
    assert.equal(match[1], readTrace);
    assert.notEqual(match[2], callerSpan, 'the parent is the gateway’s own span, not the caller’s passed through');
    const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.route === '/v1/orders/:id' && l.trace_id === readTrace);
    assert.ok(line, 'the request line still carries the unsampled trace id');
  });

  it('a problem+json carries the active trace id: the caller’s, or the new trace’s', async () => {
    const callerTrace = hex(16);
    const res = await fetch(`${url}/v1/orders/ord_zzzzzzzzzzzz`, { headers: { ...PRO, traceparent: `00-${callerTrace}-${hex(8)}-01` } });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { trace_id: string }).trace_id, callerTrace);
    const fresh = await fetch(`${url}/v1/orders/ord_zzzzzzzzzzzz`, { headers: { 'X-API-Key': 'wrong-key' } });
    assert.equal(fresh.status, 401);
    const body = (await fresh.json()) as { trace_id: string; request_id: string };
    assert.match(body.trace_id, /^[0-9a-f]{32}$/);
    await sleep(50);
    const spans = (await child.dump()).spans;
    assert.ok(spans.some((s) => s.traceId === body.trace_id && s.kind === SpanKind.SERVER), 'the trace id is a real trace');
  });

  it('a body that arrives in pieces keeps the request’s trace: the publish under the server span, the request line with its trace_id', async () => {
    // The second half comes in a later TCP read, outside the request's
    // async context: the hooks and handler that run after the body is read
    // must still be in the request's trace.
    const pieceTrace = hex(16);
    const body = JSON.stringify({
      model_id: modelId,
      parameters: { material: 'silver_925', size_mm: 18, finish: 'polished' },
      customer: { name: 'Piece Test', email: 'piece.test@example.com' },
      shipping: { name: 'Piece Test', line1: '2 Span Street', city: 'Paris', postal_code: '75001', country: 'FR' },
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${url}/v1/orders`, {
        method: 'POST',
        headers: { ...PRO, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'idempotency-key': `otel-${hex(4)}`, traceparent: `00-${pieceTrace}-${hex(8)}-01` },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.flushHeaders();
      req.write(body.slice(0, 40));
      setTimeout(() => req.end(body.slice(40)), 150);
    });
    assert.equal(status, 202);
    let spans: DumpedSpan[] = [];
    let logs: Record<string, unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const dump = await child.dump();
      spans = dump.spans;
      logs = dump.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
      if (spans.some((s) => s.traceId === pieceTrace && s.name === 'publish order.place')) break;
      await sleep(100);
    }
    const server = spans.find((s) => s.traceId === pieceTrace && s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/v1/orders');
    const publish = spans.find((s) => s.traceId === pieceTrace && s.name === 'publish order.place');
    assert.ok(server, `no server span in the trace:\n${render(spans, pieceTrace)}`);
    assert.ok(publish, `the publish left the request's trace:\n${render(spans, pieceTrace)}`);
    const chain: string[] = [];
    for (let p = spans.find((s) => s.spanId === publish.parentSpanId); p; p = spans.find((s) => s.spanId === p?.parentSpanId)) chain.push(p.spanId);
    assert.ok(chain.includes(server.spanId), render(spans, pieceTrace));
    assert.ok(logs.some((l) => l.msg === 'request' && l.route === '/v1/orders' && l.trace_id === pieceTrace), 'request line with the trace id');
  });

  it('an operators’ event stream the browser closes still ends and exports its server span', async () => {
    const streamTrace = hex(16);
    const token = await demoOperatorToken('test-secret-for-integration-tests-0123456789', '5m', 'op_trace');
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${url}/internal/v1/orders/stream`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', traceparent: `00-${streamTrace}-${hex(8)}-01` } });
      req.on('response', (res) => {
        if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
        // Connected (the feed wrote its first bytes): the browser goes away.
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end();
    });
    let server: DumpedSpan | undefined;
    for (let i = 0; i < 50 && !server; i++) {
      await sleep(100);
      server = (await child.dump()).spans.find((s) => s.traceId === streamTrace && s.kind === SpanKind.SERVER);
    }
    assert.ok(server, 'the stream’s server span was exported');
    assert.equal(server.name, 'GET /internal/v1/orders/stream');
    assert.equal(server.attributes['facet.stream.end'], 'connection_closed');
    assert.equal(server.attributes['http.response.status_code'], 200);
  });

  it('log lines carry trace_id and span_id; the request line has route, status, latency and plan, no key, no customer', async () => {
    const logs = (await child.dump()).logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const request = logs.find((l) => l.msg === 'request' && l.route === '/v1/orders' && l.method === 'POST');
    assert.ok(request, 'request log line');
    assert.equal(request.trace_id, traceId);
    assert.match(String(request.span_id), /^[0-9a-f]{16}$/);
    assert.equal(request.status, 202);
    assert.equal(request.plan, 'standard');
    assert.equal(typeof request.latency_ms, 'number');
    const text = logs.map((l) => JSON.stringify(l)).join('\n');
    assert.doesNotMatch(text, /demo-pro-key|trace\.test@example\.com|1 Span Street/);
  });
});
