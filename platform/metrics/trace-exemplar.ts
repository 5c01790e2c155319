// Latency observations carry the active trace as an exemplar, so a slow
// bucket on a dashboard links to one trace that landed in it. Only a sampled
// trace is worth linking to: an unsampled one (a ratio sampler said no) was
// never exported, and its exemplar would cost prom-client's bookkeeping for a
// dead link. Without an OpenTelemetry SDK (or outside a span) there is no
// active span and the observation is a plain one: no extra work beyond the
// lookup.

import { TraceFlags, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Histogram, LabelValues } from 'prom-client';

/** `{ trace_id }` of the active span if its trace is sampled, else undefined. */
export function traceExemplar(): Record<string, string> | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && (context.traceFlags & TraceFlags.SAMPLED) !== 0 && isSpanContextValid(context) ? { trace_id: context.traceId } : undefined;
}

/** Observes `seconds`; on a histogram made by exemplarHistogram(), with the active sampled trace as exemplar. */
export function observeSeconds<L extends string>(histogram: Histogram<L>, labels: LabelValues<L>, seconds: number): void {
  const exemplarLabels = traceExemplar();
  // The exemplar labels are not the metric's labels; prom-client's typing conflates the two.
  if (exemplarLabels) histogram.observe({ labels, value: seconds, exemplarLabels: exemplarLabels as LabelValues<L> });
  else histogram.observe({ labels, value: seconds });
}
