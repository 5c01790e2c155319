// Span export on a worker thread (platform/telemetry/worker-exporter.ts):
// what crosses to the worker rebuilds into spans that serialise to exactly
// the OTLP request the original spans make, and the export itself (the
// HTTP request to the collector) is made by the worker, not the main thread.

import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ExportResultCode, TraceState, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { fromExportBatch, toExportBatch, WorkerSpanExporter } from '../../platform/telemetry/worker-exporter.ts';

/** A parent and a child with attributes, an event, a link, an error status and a trace state, from a real SDK. */
function someSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('facet-test', '1.2.3');
  const linked = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, traceState: new TraceState('vendor=x') };
  const parent = tracer.startSpan('POST /v1/orders', { kind: SpanKind.SERVER, attributes: { 'http.route': '/v1/orders', 'facet.seller': 'slr_0003' } });
  const child = tracer.startSpan('publish facet.commands', { kind: SpanKind.PRODUCER, links: [{ context: linked, attributes: { why: 'retry' } }] }, trace.setSpan(context.active(), parent));
  child.addEvent('confirmed', { 'messaging.message.id': 'ord_1' });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'nacked' });
  child.setAttribute('sizes', [1, 2, 3]);
  child.end();
  parent.end();
  return memory.getFinishedSpans();
}

describe('span export on a worker thread', () => {
  it('spans rebuilt from what crosses to the worker serialise to the same OTLP request as the originals', () => {
    const spans = someSpans();
    assert.equal(spans.length, 2);
    // postMessage copies with the structured clone algorithm: so does this.
    const crossed = structuredClone(toExportBatch(7, spans));
    const rebuilt = fromExportBatch(crossed);
    const decode = (s: ReadableSpan[]) => new TextDecoder().decode(JsonTraceSerializer.serializeRequest(s));
    const original = decode(spans);
    assert.equal(decode(rebuilt), original);
    // Not vacuous: the request carries the parent link, the link's trace state, the event and the status.
    for (const part of ['POST /v1/orders', 'vendor=x', 'confirmed', 'nacked', 'facet-test', '"parentSpanId"']) assert.ok(original.includes(part), `${part} in the OTLP request`);
  });

  describe('against a collector on loopback', () => {
    let server: Server;
    const bodies: Buffer[] = [];
    let exporter: WorkerSpanExporter;
    const saved = { endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, timeout: process.env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT };

    before(async () => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          bodies.push(Buffer.concat(chunks));
          res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      // The worker takes its environment from the process when it starts.
      process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
      process.env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT = '1000'; // the dead collector's export gives up (retries included) within this
      exporter = new WorkerSpanExporter();
    });

    after(async () => {
      await exporter.shutdown();
      server.close();
      for (const [name, value] of [['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', saved.endpoint], ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', saved.timeout]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    it('the worker sends the batch to the collector; the main thread makes no HTTP request', async () => {
      const spans = someSpans();
      const mainThreadRequests: unknown[] = [];
      const onRequest = (message: unknown) => mainThreadRequests.push(message);
      subscribe('http.client.request.start', onRequest);
      try {
        const result = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
        assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
      } finally {
        unsubscribe('http.client.request.start', onRequest);
      }
      assert.equal(mainThreadRequests.length, 0, 'the export request was made by the worker');
      assert.equal(bodies.length, 1);
      const body = bodies[0]!;
      for (const span of spans) {
        assert.ok(body.includes(Buffer.from(span.spanContext().spanId, 'hex')), `span ${span.name} in the protobuf body`);
        assert.ok(body.includes(Buffer.from(span.name)), `name ${span.name} in the protobuf body`);
      }
    });

    it('a collector that is gone fails the export, it does not hang it', async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      const result = await new Promise<ExportResult>((resolve) => exporter.export(someSpans(), resolve));
      assert.equal(result.code, ExportResultCode.FAILED);
    });
  });
});
