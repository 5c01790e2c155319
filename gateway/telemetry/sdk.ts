// The OpenTelemetry NodeSDK as Facet runs it: traces only, W3C trace context,
// OTLP http/protobuf in batches. Instrumented: node:http (server and client
// spans), undici (the upstream pools: client spans + traceparent injection),
// ioredis, and Fastify through @fastify/otel (route name, a request and a
// handler span; hook spans are off: one per policy per request is too many
// for a gateway's hot path). RabbitMQ is traced by the bus itself
// (adapters/bus/tracing.ts) for both the RabbitMQ and the in-process bus, so
// instrumentation-amqplib stays off (it would add a second pair of spans and
// know nothing of the bus's retries). Log correlation is the pino mixin in
// gateway/logging.ts, so instrumentation-pino stays off too.
//
// Only loaded when tracing is on (register.ts decides): none of this is
// imported, patched or allocated otherwise.

import type { IncomingMessage } from 'node:http';
import { trace, type Context, type Span as ApiSpan } from '@opentelemetry/api';
import { getNodeAutoInstrumentations } from '@opentelemetry/auto-instrumentations-node';
import { W3CBaggagePropagator, W3CTraceContextPropagator, CompositePropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { COMPONENT_ATTRIBUTE, componentOfSocket, telemetryState } from './api.ts';

/** Instrumentations of auto-instrumentations-node that Facet turns on (OTEL_NODE_ENABLED_INSTRUMENTATIONS overrides). */
export const DEFAULT_INSTRUMENTATIONS = ['http', 'undici', 'ioredis'];

/** Incoming paths that never get a trace: probes and scrapes, every few seconds. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export interface TelemetryOptions {
  serviceName: string;
  /** Replaces the OTLP batch exporter (tests: an in-memory exporter behind a SimpleSpanProcessor). */
  spanProcessors?: SpanProcessor[];
}

/**
 * A span without `facet.component` takes its local parent's: set once on a
 * server span (tagServer), it marks everything done for that request.
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

function untraced(request: IncomingMessage): boolean {
  return UNTRACED_PATHS.has((request.url ?? '').split('?', 1)[0] ?? '');
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
        '@opentelemetry/instrumentation-http': {
          ignoreIncomingRequestHook: untraced,
          // The Facet part that owns the server (tagServer) marks the server span.
          requestHook: (span, request) => {
            if (!('socket' in request)) return;
            const component = componentOfSocket(request.socket);
            if (component) span.setAttribute(COMPONENT_ATTRIBUTE, component);
          },
        },
      }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true, instrumentHooks: false, ignorePaths: (route) => UNTRACED_PATHS.has(route.url.split('?', 1)[0] ?? '') }),
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
