// The OpenTelemetry NodeSDK as Facet runs it: traces only, W3C trace context,
// OTLP http/protobuf in batches, OTEL_TRACES_SAMPLER as usual (NodeSDK's
// default: parentbased_always_on, every request traced).
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
// - undici (the upstream pools): a CLIENT span per call, traceparent
//   injected; none outside a traced request.
// - ioredis: only inside a traced request (requireParentSpan, its default).
// RabbitMQ is traced by the bus itself (adapters/bus/tracing.ts) for both the
// RabbitMQ and the in-process bus, so instrumentation-amqplib stays off (it
// would add a second pair of spans and know nothing of the bus's retries).
// Log correlation is the pino mixin in gateway/logging.ts, so
// instrumentation-pino stays off too.
//
// Only loaded when tracing is on (register.ts decides): none of this is
// imported, patched or allocated otherwise.

import { trace, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { W3CBaggagePropagator, W3CTraceContextPropagator, CompositePropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { FastifyRequest } from 'fastify';
import { COMPONENT_ATTRIBUTE, componentOfSocket, telemetryState } from './api.ts';

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

/** The server span: named `METHOD route` like an HTTP server span, and tagged with the Facet part that owns the server (tagServer). */
function nameServerSpan(span: ApiSpan, request: FastifyRequest): void {
  const route = request.routeOptions.url;
  span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
  const component = componentOfSocket(request.raw.socket);
  if (component) span.setAttribute(COMPONENT_ATTRIBUTE, component);
}

export function startTelemetry(options: TelemetryOptions): NodeSDK {
  process.env.OTEL_NODE_ENABLED_INSTRUMENTATIONS ??= DEFAULT_INSTRUMENTATIONS.join(',');
  const processors = options.spanProcessors ?? [new BatchSpanProcessor(new OTLPTraceExporter())];
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, wins over the per-process default.
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: options.serviceName }),
    spanProcessors: [new ComponentSpanProcessor(), ...processors],
    // Traces only: metrics are Prometheus (gateway/metrics), logs are JSON on stdout.
    // (Left unset, NodeSDK would start OTLP metric and log exporters too.)
    metricReaders: [],
    logRecordProcessors: [],
    textMapPropagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    instrumentations: [
      getNodeAutoInstrumentations({
        // Outside a traced request (a background refresh, a poll) an upstream call starts no trace of its own.
        '@opentelemetry/instrumentation-undici': { requireParentforSpans: true },
      }),
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
    await sdk.shutdown();
  };
  return sdk;
}
