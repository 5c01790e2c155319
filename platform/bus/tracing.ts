// Trace context through the bus, the same for RabbitMQ and the in-process
// bus. A publish is a PRODUCER span that lasts until the broker's confirm
// and writes W3C `traceparent` / `tracestate` into the message's application
// headers (the codec keeps them: only `x-facet-*` and broker headers are
// dropped). A delivery is a CONSUMER span, child of the producer's context,
// around the handler. A delayed retry or a redelivery is published again
// with the same headers, so each attempt is another child of the original
// publish (attribute `facet.bus.attempt`), never a child of the failed one.
//
// With tracing off (no SDK), nothing is created and the headers pass as
// they came.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes } from '@opentelemetry/api';
import { COMPONENT_ATTRIBUTE, tracingEnabled } from '../telemetry/api.ts';
import type { BusMessage, Delivery, Handler, HandlerResult, PublishOptions } from './types.ts';

const TRACER = 'facet-bus';
const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'];

export interface Destination {
  /** `rabbitmq` or `facet-memory` (the in-process bus). */
  system: string;
  /** The exchange as the broker names it (with the topology prefix). */
  exchange: string;
}

function messageAttributes(destination: Destination, routingKey: string, id: string): Attributes {
  return {
    'messaging.system': destination.system,
    'messaging.destination.name': destination.exchange,
    'messaging.rabbitmq.destination.routing_key': routingKey,
    'messaging.message.id': id,
  };
}

/**
 * Publishes `message` under a PRODUCER span (ended when `send` settles, i.e.
 * on the broker's confirm) with the span's context in its headers. Trace
 * headers given by the caller are replaced by the current context.
 */
export function tracedPublish(destination: Destination, routingKey: string, message: BusMessage, options: PublishOptions | undefined, send: (message: BusMessage, options: PublishOptions | undefined) => Promise<void>): Promise<void> {
  if (!tracingEnabled()) return send(message, options);
  const attributes = { ...messageAttributes(destination, routingKey, message.id), 'messaging.operation.type': 'send', 'messaging.operation.name': 'publish' };
  return trace.getTracer(TRACER).startActiveSpan(`publish ${routingKey}`, { kind: SpanKind.PRODUCER, attributes }, async (span) => {
    const headers: Record<string, string> = { ...message.headers, ...options?.headers };
    for (const name of TRACE_HEADERS) delete headers[name];
    propagation.inject(context.active(), headers);
    try {
      await send({ ...message, headers }, { ...options, headers: {} });
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The part of Facet a consumer queue belongs to (the gateway's event queue, else the adapters). */
function componentOf(queue: string): string {
  return queue.startsWith('gateway.') ? 'gateway' : 'adapters';
}

/** Wraps a handler: each delivery runs in a CONSUMER span whose parent is the publisher's context. */
export function tracedHandler(destination: Omit<Destination, 'exchange'>, queue: string, handler: Handler): Handler {
  if (!tracingEnabled()) return handler;
  return (delivery: Delivery): Promise<HandlerResult> => {
    const { message, routingKey } = delivery;
    const parent = propagation.extract(ROOT_CONTEXT, message.headers ?? {});
    const attributes: Attributes = {
      'messaging.system': destination.system,
      'messaging.rabbitmq.destination.routing_key': routingKey,
      'messaging.message.id': message.id,
      'messaging.consumer.group.name': queue,
      'messaging.destination.subscription.name': queue,
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'facet.bus.attempt': delivery.attempt,
      'facet.bus.redelivered': delivery.redelivered,
      [COMPONENT_ATTRIBUTE]: componentOf(queue),
    };
    return trace.getTracer(TRACER).startActiveSpan(`process ${routingKey}`, { kind: SpanKind.CONSUMER, attributes }, parent, async (span) => {
      try {
        const result = await handler(delivery);
        const outcome = result === 'ack' || result === 'retry' ? result : 'dead';
        span.setAttribute('facet.bus.result', outcome);
        if (outcome !== 'ack') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome === 'dead' ? `parked: ${(result as { dead: string }).dead}` : 'retry' });
        return result;
      } catch (err) {
        // The bus turns a throw into a delayed retry.
        span.setAttribute('facet.bus.result', 'retry');
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  };
}
