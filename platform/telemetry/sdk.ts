// The OpenTelemetry NodeSDK as Facet runs it: traces only, W3C trace context,
// OTLP http/protobuf in batches, OTEL_TRACES_SAMPLER as usual (register.ts
// defaults it to parentbased_traceidratio, 10%; NodeSDK's own default,
// used when this is started directly as the tests do, is parentbased_always_on).
//
// Instrumented (what each part costs: docs/observability.md, "Cost"):
// - Fastify, through @fastify/otel on every Fastify instance: one SERVER span
//   per request (`GET /v1/orders/:id`, with http.route), started in the
//   first onRequest hook from the caller's traceparent. No handler or hook
//   spans: the span of the one upstream call already sits under it.
//   instrumentation-http stays off: it would add a second server span around
//   the same request, and its per-request work (URL parsing, attributes,
//   patching every request and response emitter to carry the context) cost
//   more than any other part of tracing.
// - upstream calls: the upstream client (platform/upstream/client.ts) makes
//   the CLIENT span of each attempt of a sampled request itself
//   (upstream-span.ts) and injects its traceparent; instrumentation-undici
//   spans the other undici calls of a sampled request (the reply-from
//   pass-through, webhook deliveries) and skips the upstream client's. A
//   call of an unsampled request gets no client span (it would record
//   nothing), only the traceparent, flags 00, of the request's server span
//   (injectUnsampled). None outside a request.
// - ioredis: only inside a traced request (requireParentSpan, its default).
// RabbitMQ is traced by the bus itself (platform/bus/tracing.ts) for both the
// RabbitMQ and the in-process bus, so instrumentation-amqplib stays off (it
// would add a second pair of spans and know nothing of the bus's retries).
// Log correlation is the pino mixin in platform/logging.ts, so
// instrumentation-pino stays off too.
//
// Only loaded when tracing is on (register.ts decides): none of this is
// imported, patched or allocated otherwise.

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { context, propagation, trace, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { W3CBaggagePropagator, W3CTraceContextPropagator, CompositePropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { FastifyRequest } from 'fastify';
import { COMPONENT_ATTRIBUTE, componentOfSocket, isSampled, telemetryState } from './api.ts';
import { isUpstreamCall } from './upstream-span.ts';
import { WorkerSpanExporter } from './worker-exporter.ts';

/** Instrumentations of auto-instrumentations-node that Facet turns on (OTEL_NODE_ENABLED_INSTRUMENTATIONS overrides). */
export const DEFAULT_INSTRUMENTATIONS = ['undici', 'ioredis'];

/** Incoming paths that never get a trace: probes and scrapes, every few seconds. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface TelemetryOptions {
  serviceName: string;
  /** Replaces the OTLP batch exporter (tests: an in-memory exporter behind a SimpleSpanProcessor). */
  spanProcessors?: SpanProcessor[];
}

/**
 * A span without `facet.component` takes its local parent's: set once on a
 * server span (the @fastify/otel request hook), it marks everything done for
 * that request.
 */
class ComponentSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    if (span.attributes[COMPONENT_ATTRIBUTE] !== undefined) return;
    const parent = trace.getSpan(parentContext) as (ApiSpan & Partial<Pick<ReadableSpan, 'attributes'>>) | undefined;
    const component = parent?.attributes?.[COMPONENT_ATTRIBUTE];
    if (component !== undefined) span.setAttribute(COMPONENT_ATTRIBUTE, component);
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A route pattern (at registration) or a request URL (query string and all) that is never traced. */
function untraced({ url }: { url: string }): boolean {
  const query = url.indexOf('?');
  return UNTRACED_PATHS.has(query < 0 ? url : url.slice(0, query));
}

/**
 * True unless the active span is sampled: an upstream call of an unsampled
 * request (or of none) gets no client span. The sampled flag, not
 * isRecording(), which is false for a sampled span that has ended (a
 * stale-while-revalidate refresh runs after its request's answer).
 */
function notSampled(): boolean {
  const span = trace.getActiveSpan();
  return span === undefined || !isSampled(span);
}

/** A call instrumentation-undici leaves alone: of an unsampled request, or one the upstream client traces itself (upstream-span.ts). */
function ignoredByUndiciInstrumentation(): boolean {
  return notSampled() || isUpstreamCall();
}

/** The part of undici's `undici:request:create` message used here (undici's docs/api/DiagnosticsChannel.md). */
interface UndiciCreatedRequest {
  request: { addHeader(name: string, value: string): unknown };
}

/**
 * Gives an upstream call of an unsampled request its traceparent (flags 00,
 * parent = the server span), which instrumentation-undici no longer adds
 * once notSampled() tells it to skip the call: the CRM and MES still see
 * the trace and its sampling decision. Its per-call work (URL parsing,
 * ~10 attributes, a header map, a span, a WeakMap entry) bought nothing
 * for a span that is never recorded.
 */
function injectUnsampled(message: unknown): void {
  const span = trace.getActiveSpan();
  if (span === undefined || isSampled(span)) return;
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  const { request } = message as UndiciCreatedRequest;
  for (const [name, value] of Object.entries(headers)) request.addHeader(name, value);
}

/** The server span: named `METHOD route` like an HTTP server span, and tagged with the Facet part that owns the server (tagServer). */
function nameServerSpan(span: ApiSpan, request: FastifyRequest): void {
  // An unsampled request's span keeps neither name nor attributes.
  if (!span.isRecording()) return;
  const route = request.routeOptions.url;
  span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
  const component = componentOfSocket(request.raw.socket);
  if (component) span.setAttribute(COMPONENT_ATTRIBUTE, component);
}

/**
 * The OTLP exporter on the main thread (the SDK's usual set-up), or with
 * FACET_TRACE_EXPORT=worker on a worker thread (worker-exporter.ts). The
 * worker takes serialisation and the HTTP request off the event loop, but
 * copying each batch to it costs more than it saves: in tracing-overhead on
 * 2 cores a fully traced gateway spent 46–95 µs more CPU per request with it (two runs)
 * (docs/performance.md), so it is not the default.
 */
function traceExporter(): SpanExporter {
  return process.env.FACET_TRACE_EXPORT === 'worker' ? new WorkerSpanExporter() : new OTLPTraceExporter();
}

export function startTelemetry(options: TelemetryOptions): NodeSDK {
  process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS ??= DEFAULT_INSTRUMENTATIONS.join(',');
  const processors = options.spanProcessors ?? [new BatchSpanProcessor(traceExporter())];
  const instrumentations = getNodeAutoInstrumentations({
    // Outside a traced request (a background refresh, a poll) an upstream call starts no trace of its own.
    '@opentelemetry/instrumentation-undici': { requireParentforSpans: true, ignoreRequestHook: ignoredByUndiciInstrumentation },
  });
  // Only where undici is instrumented (OTEL_NODE_ENABLED_INSTRUMENTATIONS may leave it out): sampled or not, the same calls carry a traceparent.
  const injecting = instrumentations.some((i) => i.instrumentationName === '@opentelemetry/instrumentation-undici');
  if (injecting) subscribe('undici:request:create', injectUnsampled);
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, wins over the per-process default.
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: options.serviceName }),
    spanProcessors: [new ComponentSpanProcessor(), ...processors],
    // Traces only: metrics are Prometheus (platform/metrics), logs are JSON on stdout.
    // (Left unset, NodeSDK would start OTLP metric and log exporters too.)
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    instrumentations: [
      instrumentations,
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        // Without instrumentation-http in the context, its request span is a SERVER span continuing the caller's traceparent.
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: untraced,
        requestHook: nameServerSpan,
      }),
    ],
  });
  sdk.start();
  telemetryState.enabled = true;
  telemetryState.serviceName = options.serviceName;
  telemetryState.shutdown = async () => {
    telemetryState.enabled = false;
    if (injecting) unsubscribe('undici:request:create', injectUnsampled);
    await sdk.shutdown();
  };
  return sdk;
}
