// A trace sink for the benchmark, run as a child of the harness on loopback:
// `node loadtests/bench/otlp-sink.ts <port>`. It stands in for a collector
// (Jaeger, Tempo, an OTel Collector) so that a traced gateway exports for
// real (serialise, batch, POST) without a collector's own cost on the two
// CPUs. POST [/<name>]/v1/traces answers 200 with an empty
// ExportTraceServiceResponse and counts requests, bytes and spans, by the
// path before /v1/traces (so several gateways can share one sink, each with
// its own OTEL_EXPORTER_OTLP_ENDPOINT = <sink>/<name>); GET /stats returns
// the counts by name ("" for /v1/traces); GET /healthz answers 200.
//
// Spans are counted by walking the protobuf wire format just deep enough:
// ExportTraceServiceRequest.resource_spans (1) → ResourceSpans.scope_spans
// (2) → ScopeSpans.spans (2). JSON payloads (OTLP/HTTP JSON) are counted by
// parsing them. gzip bodies are inflated first.

import { gunzipSync } from 'node:zlib';
import { portArgument, serveSink } from './sink-server.ts';

const port = portArgument('node loadtests/bench/otlp-sink.ts <port>');

interface Counts {
  requests: number;
  bytes: number;
  spans: number;
  undecodable: number;
}
const stats: Record<string, Counts> = {};

function varint(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    if (i >= buf.length) throw new RangeError('truncated varint');
    const byte = buf[i++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, i];
    shift += 7;
  }
}

/** Calls `onField(field, start, end)` for each length-delimited field of `buf[from, to)`; skips the others. */
function fields(buf: Buffer, from: number, to: number, onField: (field: number, start: number, end: number) => void): void {
  let i = from;
  while (i < to) {
    const [tag, afterTag] = varint(buf, i);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    i = afterTag;
    if (wire === 0) i = varint(buf, i)[1];
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const [length, start] = varint(buf, i);
      const end = start + length;
      if (end > to) throw new RangeError('truncated field');
      onField(field, start, end);
      i = end;
    } else throw new RangeError(`unsupported wire type ${wire}`);
  }
}

function countProtobufSpans(buf: Buffer): number {
  let spans = 0;
  fields(buf, 0, buf.length, (f1, s1, e1) => {
    if (f1 !== 1) return;
    fields(buf, s1, e1, (f2, s2, e2) => {
      if (f2 !== 2) return;
      fields(buf, s2, e2, (f3) => {
        if (f3 === 2) spans++;
      });
    });
  });
  return spans;
}

function countJsonSpans(text: string): number {
  const doc = JSON.parse(text) as { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
  return (doc.resourceSpans ?? []).reduce((sum, r) => sum + (r.scopeSpans ?? []).reduce((s, ss) => s + (ss.spans?.length ?? 0), 0), 0);
}

serveSink(
  port,
  () => stats,
  ({ method, path, headers, body: raw }, response) => {
    if (method !== 'POST' || !path.endsWith('/v1/traces')) {
      response.statusCode = 404;
      response.end();
      return;
    }
    const name = path.slice(1, -'/v1/traces'.length);
    const counts = (stats[name] ??= { requests: 0, bytes: 0, spans: 0, undecodable: 0 });
    counts.requests++;
    counts.bytes += raw.length;
    const json = /json/i.test(headers['content-type'] ?? '');
    try {
      const body = /gzip/i.test(headers['content-encoding'] ?? '') ? gunzipSync(raw) : raw;
      counts.spans += json ? countJsonSpans(body.toString('utf8')) : countProtobufSpans(body);
    } catch {
      counts.undecodable++;
    }
    // An empty ExportTraceServiceResponse: no partial_success, everything accepted.
    response.setHeader('content-type', json ? 'application/json' : 'application/x-protobuf');
    response.end(json ? '{}' : '');
  },
);
