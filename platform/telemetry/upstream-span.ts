// The CLIENT span of one HTTP attempt to an upstream (CRM, MES), made by the
// upstream client itself (platform/upstream/client.ts), and only inside a
// sampled trace. instrumentation-undici made this span before, and it
// spent most of what a traced read cost: for every sampled call it parsed
// the URL, split the request's header string, kept a WeakMap entry and ran
// four diagnostics-channel callbacks (docs/performance.md, "tracing-overhead").
// The client knows the method, origin and path already; so this span costs
// a span. An unsampled call gets no span, only the traceparent (flags 00)
// that sdk.ts's undici subscriber adds; calls not made by the upstream
// client (the reply-from pass-through, webhooks) keep instrumentation-undici,
// which skips a call made under an upstream span (isUpstreamCall).

import { context, createContextKey, propagation, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { isSampled } from './api.ts';

const UPSTREAM_CALL = createContextKey('facet.upstream.call');
const TRACER = 'facet-upstream';

/** The parts of an upstream's URL a span names, parsed once per client. */
export interface UpstreamTarget {
  /** Endpoint name in the config (`crm`, `mes`). */
  name: string;
  origin: string;
  host: string;
  port: number;
}

export interface UpstreamSpan {
  /** The context to run the call in: the span active, marked as an upstream call. */
  readonly context: Context;
  /** Adds the trace context headers (traceparent, baggage) for the upstream. */
  inject(headers: Record<string, string>): void;
  /** The answer's status (an HTTP error ≥ 400 marks the span as failed, as the HTTP conventions say). */
  answered(status: number): void;
  /** The attempt failed without an answer, or the answer could not be read. */
  failed(error: unknown): void;
  end(): void;
}

/** True while a call started by the upstream client is dispatched: instrumentation-undici leaves it alone. */
export function isUpstreamCall(): boolean {
  return context.active().getValue(UPSTREAM_CALL) !== undefined;
}

/** A CLIENT span for one attempt, or undefined unless the active trace is sampled (nothing to record). */
export function startUpstreamSpan(target: UpstreamTarget, method: string, path: string): UpstreamSpan | undefined {
  const active = context.active();
  const parent = trace.getSpan(active);
  if (parent === undefined || !isSampled(parent)) return undefined;
  const span = trace.getTracer(TRACER).startSpan(
    method,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'server.address': target.host,
        'server.port': target.port,
        'url.full': target.origin + path,
        'facet.upstream': target.name,
      },
    },
    active,
  );
  return new AttemptSpan(span, trace.setSpan(active, span).setValue(UPSTREAM_CALL, true));
}

class AttemptSpan implements UpstreamSpan {
  private errorType: string | undefined;
  private readonly span: Span;
  readonly context: Context;

  constructor(span: Span, context: Context) {
    this.span = span;
    this.context = context;
  }

  inject(headers: Record<string, string>): void {
    propagation.inject(this.context, headers);
  }

  answered(status: number): void {
    this.span.setAttribute('http.response.status_code', status);
    if (status < 400) return;
    this.errorType = String(status);
    this.span.setAttribute('error.type', this.errorType);
    this.span.setStatus({ code: SpanStatusCode.ERROR });
  }

  failed(error: unknown): void {
    // A 5xx is thrown after it was answered: its status is the error's type.
    if (this.errorType !== undefined) return;
    this.errorType = error instanceof Error ? error.name : 'unknown';
    this.span.setAttribute('error.type', this.errorType);
    this.span.setStatus({ code: SpanStatusCode.ERROR, ...(error instanceof Error ? { message: error.message } : {}) });
  }

  end(): void {
    this.span.end();
  }
}
