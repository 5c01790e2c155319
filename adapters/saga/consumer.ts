// The order saga's consumers:
//   saga.commands  ← commands / order.place, order.cancel
//   saga.events    ← events / quote.ready, quote.failed, mes.manufacturing_changed
// Per delivery: check the body (malformed → parked), take the order's lock,
// load the state, skip a message already handled to the end (same message
// id), run the handler, write the state, then ack. Transient failures
// (upstream down or slow, breaker open, bus or state store away, lock held
// too long) → 'retry': the bus waits its delay and delivers again, and after
// `maxAttempts` parks the message in the dead-letter queue with the last
// error as its reason.

import type { Bus, ConsumerSpec, Delivery, HandlerResult, Subscription } from '../../platform/bus/types.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { MES_MANUFACTURING_CHANGED } from '../mes/messages.ts';
import { InvalidMessageError } from '../shared/guards.ts';
import { SagaDeadError } from './errors.ts';
import { onCancel, onManufacturingChanged, onPlace, onQuoteFinished } from './handlers.ts';
import { readInbound, type Inbound } from './inbound.ts';
import { NOT_ACQUIRED, type Lease, type OrderLocks } from './lock.ts';
import { SagaRun, type SagaDeps } from './run.ts';
import { newSagaState } from './state.ts';
import { noteResume, originTraceparent, sagaSpan } from './tracing.ts';

export const SAGA_COMMANDS_QUEUE = 'saga.commands';
export const SAGA_EVENTS_QUEUE = 'saga.events';

/** Long enough to ride out a CRM or MES restart (~20 min in all) before a message is parked. */
export const SAGA_RETRY_DELAYS_MS: readonly number[] = [1_000, 5_000, 30_000, 60_000, 300_000];
export const SAGA_MAX_ATTEMPTS = 10;

export interface SagaConsumerOptions {
  prefetch?: number;
  maxAttempts?: number;
  retryDelaysMs?: number[];
}

export function sagaHandler(deps: SagaDeps, locks: OrderLocks): (delivery: Delivery) => Promise<HandlerResult> {
  return async (delivery) => {
    let inbound: Inbound;
    try {
      inbound = readInbound(delivery.routingKey, delivery.message.body);
    } catch (err) {
      if (err instanceof InvalidMessageError) return { dead: err.message };
      throw err;
    }
    const orderId = inbound.orderId;
    if (orderId === null) return 'ack'; // a quote for no order (the gateway's quotes): not the saga's
    try {
      const result = await sagaSpan(inbound.kind, orderId, delivery, () => locks.run(orderId, (lease) => handle(deps, lease, delivery, inbound)));
      if (result !== NOT_ACQUIRED) return result;
      deps.logger.warn({ order_id: orderId, id: delivery.message.id }, 'saga: order busy elsewhere; retrying later');
      return 'retry';
    } catch (err) {
      if (err instanceof SagaDeadError) return { dead: err.message };
      deps.logger.warn({ err, order_id: orderId, id: delivery.message.id, attempt: delivery.attempt }, 'saga: step failed; retrying later');
      throw err;
    }
  };
}

async function handle(deps: SagaDeps, lease: Lease, delivery: Delivery, inbound: Inbound): Promise<HandlerResult> {
  const { message } = delivery;
  const orderId = inbound.orderId as string;
  let state = await deps.store.load(orderId);
  if (state?.handled.includes(message.id)) {
    deps.logger.info({ order_id: orderId, id: message.id, redelivered: delivery.redelivered }, 'saga: duplicate message ignored');
    return 'ack';
  }
  if (!state) {
    if (inbound.kind === 'cancel') {
      // order.place not handled yet (or an unknown order): wait for it; parked after maxAttempts.
      deps.logger.info({ order_id: orderId }, 'saga: cancel for an order not placed yet; retrying later');
      return 'retry';
    }
    if (inbound.kind !== 'place') {
      deps.logger.debug({ order_id: orderId, type: message.type }, 'saga: event for an order it does not run');
      return 'ack';
    }
    state = newSagaState(inbound.body);
    const traceparent = originTraceparent();
    if (traceparent) state.traceparent = traceparent;
  } else {
    noteResume(state);
  }
  const run = new SagaRun(deps, state, message, lease);
  await run.finishPending();
  switch (inbound.kind) {
    case 'place':
      if (run.state.version === 0) await run.checkpoint('received', 'order.place received');
      await onPlace(run);
      break;
    case 'cancel':
      await onCancel(run, inbound.body);
      break;
    case 'quote':
      await onQuoteFinished(run, inbound.body);
      break;
    case 'manufacturing':
      await onManufacturingChanged(run, inbound.body);
      break;
  }
  await run.finish();
  return 'ack';
}

/** facet_saga_outcomes_total{outcome="failed"}: a message the bus is about to park (poison, or its last attempt failed). */
function countFailures(handler: (delivery: Delivery) => Promise<HandlerResult>, maxAttempts: number, deps: SagaDeps): (delivery: Delivery) => Promise<HandlerResult> {
  const metrics = deps.metrics;
  if (!metrics) return handler;
  return async (delivery) => {
    const last = delivery.attempt >= maxAttempts;
    try {
      const result = await handler(delivery);
      if (typeof result === 'object' || (result === 'retry' && last)) metrics.outcome('failed');
      return result;
    } catch (err) {
      if (last) metrics.outcome('failed');
      throw err;
    }
  };
}

export async function startSagaConsumers(bus: Bus, deps: SagaDeps, locks: OrderLocks, options: SagaConsumerOptions = {}): Promise<Subscription[]> {
  const common = {
    prefetch: options.prefetch ?? 16,
    maxAttempts: options.maxAttempts ?? SAGA_MAX_ATTEMPTS,
    retryDelaysMs: options.retryDelaysMs ?? [...SAGA_RETRY_DELAYS_MS],
  };
  const commands: ConsumerSpec = {
    ...common,
    queue: SAGA_COMMANDS_QUEUE,
    bindings: [
      { exchange: 'commands', pattern: ROUTING.placeOrder },
      { exchange: 'commands', pattern: ROUTING.cancelOrder },
    ],
  };
  const events: ConsumerSpec = {
    ...common,
    queue: SAGA_EVENTS_QUEUE,
    bindings: [
      { exchange: 'events', pattern: ROUTING.quoteReady },
      { exchange: 'events', pattern: ROUTING.quoteFailed },
      { exchange: 'events', pattern: MES_MANUFACTURING_CHANGED },
    ],
  };
  const handler = countFailures(sagaHandler(deps, locks), common.maxAttempts, deps);
  const subscriptions: Subscription[] = [];
  try {
    subscriptions.push(await bus.consume(events, handler));
    subscriptions.push(await bus.consume(commands, handler));
  } catch (err) {
    await Promise.allSettled(subscriptions.map((s) => s.cancel()));
    throw err;
  }
  return subscriptions;
}
