// What application code uses of tracing: the trace ids of the active span
// (for logs and problem+json), the `facet.component` tag of HTTP servers,
// and shutdown. Only @opentelemetry/api here: without the SDK (tracing off)
// every call is a no-op costing a context lookup. The SDK itself is started
// by register.ts (`node --import ./platform/telemetry/register.ts ...`).

import type { Server, ServerResponse } from 'node:http';
import { trace, isSpanContextValid, TraceFlags, type Span, type Tracer } from '@opentelemetry/api';

/** Span attribute naming the part of Facet a span belongs to (one process may run them all). */
export const COMPONENT_ATTRIBUTE = 'facet.component';
export type Component = 'gateway' | 'adapters' | 'mes-sim' | 'crm-sim';

/** The tracing state of this process, shared by every copy of this module (tests may load it twice). */
interface TelemetryState {
  /** True once the SDK is started with an exporter. */
  enabled: boolean;
  serviceName: string | undefined;
  shutdown: (() => Promise<void>) | undefined;
}

const STATE_KEY = Symbol.for('facet.telemetry');
const global = globalThis as unknown as Record<symbol, TelemetryState | undefined>;
export const telemetryState: TelemetryState = (global[STATE_KEY] ??= { enabled: false, serviceName: undefined, shutdown: undefined });

export function tracingEnabled(): boolean {
  return telemetryState.enabled;
}

export function tracer(name: string): Tracer {
  return trace.getTracer(name);
}

/** The span's trace is sampled (recorded and exported), by its flag: also true once a sampled span has ended, unlike isRecording(). */
export function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

/**
 * For a hijacked reply that may never finish (an event stream the client
 * closes): ends the active server span when the connection closes first.
 * @fastify/otel ends it in onResponse, which only a finished response
 * reaches; without this the stream's span would never be exported.
 */
export function endServerSpanOnClose(res: ServerResponse): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  const end = (): void => {
    if (res.writableFinished || !span.isRecording()) return; // onResponse ends it
    span.setAttribute('http.response.status_code', res.statusCode);
    // The client left, or the gateway dropped it (too slow): the stream did not end.
    span.setAttribute('facet.stream.end', 'connection_closed');
    span.end();
  };
  // Gone before the stream opened: its 'close' was emitted already.
  if (res.destroyed) end();
  else res.once('close', end);
}

export interface TraceFields {
  trace_id?: string;
  span_id?: string;
}

/**
 * `trace_id` and `span_id` of the active span, for a log line (pino mixin);
 * `{}` without one. A new object each time: pino merges into it.
 */
export function traceFields(): TraceFields {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  return isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const INVALID_TRACE_ID = '00000000000000000000000000000000';

/** The trace id of a W3C `traceparent` header value, or undefined. */
export function traceIdOfTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const id = TRACEPARENT.exec(value.trim())?.[1];
  return id === undefined || id === INVALID_TRACE_ID ? undefined : id;
}

/**
 * The trace a request belongs to: the active span's when tracing is on,
 * else the caller's `traceparent` (so a client's trace id still reaches our
 * logs and error bodies at the cost of one regex).
 */
export function activeTraceId(headers?: Record<string, string | string[] | undefined>): string | undefined {
  const span = trace.getActiveSpan();
  if (span) {
    const ctx = span.spanContext();
    if (isSpanContextValid(ctx)) return ctx.traceId;
  }
  return headers ? traceIdOfTraceparent(headers.traceparent) : undefined;
}

const kComponent = Symbol.for('facet.telemetry.component');

/** Tags an HTTP server: its requests' server spans (and everything under them) get `facet.component`. */
export function tagServer(server: Server, component: Component): void {
  (server as unknown as Record<symbol, Component>)[kComponent] = component;
}

/** The component an incoming request's server was tagged with. */
export function componentOfSocket(socket: unknown): Component | undefined {
  const server = (socket as { server?: Record<symbol, Component | undefined> } | undefined)?.server;
  return server?.[kComponent];
}

/**
 * Flushes and stops tracing, waiting at most `timeoutMs` (a collector that is
 * down must not hold up an exit). Call it last before `process.exit`.
 */
export async function shutdownTelemetry(timeoutMs = 3_000): Promise<void> {
  const shutdown = telemetryState.shutdown;
  if (!shutdown) return;
  telemetryState.shutdown = undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([shutdown().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
