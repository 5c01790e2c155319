// The saga's spans. Each delivery the saga handles runs in one INTERNAL span
// `saga <kind>` (place, quote, manufacturing, cancel) under the bus's
// CONSUMER span; its upstream calls (CRM, MES) and events are its children,
// and each checkpoint is an event on it. The first delivery of an order
// records its span context in the saga state (`traceparent`); a later
// delivery that resumes the order (a quote or a manufacturing change, a
// cancel, a redelivery after a crash) links to it. The parent stays the
// message that caused the step: the link says "this continues that order",
// which a parent/child relation across minutes and processes would not.

import { ROOT_CONTEXT, SpanStatusCode, propagation, trace, type Span } from '@opentelemetry/api';
import { COMPONENT_ATTRIBUTE, tracingEnabled } from '../../platform/telemetry/api.ts';
import type { Delivery } from '../../platform/bus/types.ts';
import type { SagaState } from './state.ts';

const TRACER = 'facet-saga';

export function sagaSpan<T>(kind: string, orderId: string, delivery: Delivery, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  const attributes = {
    [COMPONENT_ATTRIBUTE]: 'adapters',
    'facet.order_id': orderId,
    'facet.saga.message_type': delivery.message.type,
    'messaging.message.id': delivery.message.id,
  };
  return trace.getTracer(TRACER).startActiveSpan(`saga ${kind}`, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active saga span's context as a traceparent, for the state of a new order. */
export function originTraceparent(): string | undefined {
  const span = tracingEnabled() ? trace.getActiveSpan() : undefined;
  if (!span) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

/** On a delivery that continues an order: the step from which it started, and a link to the order's first span. */
export function noteResume(state: SagaState): void {
  const span: Span | undefined = tracingEnabled() ? trace.getActiveSpan() : undefined;
  if (!span) return;
  span.setAttribute('facet.saga.step.before', state.step);
  if (!state.traceparent) return;
  const origin = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: state.traceparent }));
  if (origin && origin.spanId !== span.spanContext().spanId) span.addLink({ context: origin, attributes: { 'facet.link': 'saga.origin' } });
}

/** A checkpoint, as an event on the active saga span. */
export function noteCheckpoint(step: string, note: string | undefined): void {
  if (!tracingEnabled()) return;
  trace.getActiveSpan()?.addEvent('saga.checkpoint', { 'facet.saga.step': step, ...(note ? { 'facet.saga.note': note } : {}) });
}
