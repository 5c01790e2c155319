// The gateway's side of the events: order status changes are announced to
// the policies that keep derived state (the cache drops the seller's and the
// dashboard's pages: one generation bump, seen by every replica through
// pub/sub), free price-job slots and drop or move pending records; finished price
// jobs settle their quotes and announce them (`quote.settled`, for sellers'
// webhooks). Replicas share one queue (competing consumers): a bump in Redis
// is enough for all of them.

import type { OrderStatus, OrderStatusChangedEvent, OrderTakeRefusedEvent, QuoteFinishedEvent, QuoteSettledEvent } from '../contracts/messages.ts';
import { ROUTING } from '../contracts/messages.ts';
import { isBusUnroutable, type Delivery, type HandlerResult } from '../platform/bus/index.ts';
import { records } from './operations/records.ts';
import { settleQuote } from './operations/quotes.ts';
import { onTakeRefused } from './operations/take.ts';
import { feedRecordOf } from './notify/feed-events.ts';
import type { GatewayServices } from './services.ts';

/**
 * Statuses the saga may announce for an order the CRM never accepted
 * (adapters/saga/run.ts: a rejection before the CRM create); every other
 * status is announced only after the CRM accepted it.
 */
const MAYBE_NOT_IN_CRM: ReadonlySet<OrderStatus> = new Set(['REJECTED', 'CANCELLED']);

export async function onOrderStatusChanged(services: Pick<GatewayServices, 'orderChanges' | 'state'>, event: OrderStatusChangedEvent): Promise<void> {
  const notified = services.orderChanges.notify({ sellerId: event.seller_id, kind: 'status_changed' });
  // Any change after SUBMITTED means the order's price job (if it had one) is settled: its slot is free.
  const slotFreed = event.status !== 'SUBMITTED' ? services.state.removeMember(records.priceJobs.key(event.seller_id), records.priceJobs.orderMember(event.order_id)) : undefined;
  // The CRM has the order: reads answer from it, so the pending record (the answer between the 202 and
  // the CRM create) has done its work and goes, instead of being rewritten at every status for 30 days.
  // Independent, idempotent steps issued together: Redis gets them in one write (auto-pipelining).
  if (!MAYBE_NOT_IN_CRM.has(event.status)) {
    await Promise.all([notified, slotFreed, records.pendingOrder.remove(services.state, event.order_id)]);
    return;
  }
  // Rejected or cancelled, perhaps before the CRM ever had it: the pending record, if any, says so.
  const [, , pending] = await Promise.all([notified, slotFreed, records.pendingOrder.getAny(services.state, event.order_id)]);
  if (pending && pending.order.status !== event.status) {
    await records.pendingOrder.put(services.state, pending.seller_id, { ...pending.order, status: event.status, updated_at: event.at, ...(event.reason ? { status_reason: event.reason.slice(0, 500) } : {}) });
  }
}

/** Attempts at a price job event whose quote link is missing, before it is taken as no quote of ours. */
export const QUOTE_LINK_ATTEMPTS = 3;

/**
 * Settles the quote (unless a seller's poll did it first) and announces it,
 * every time: the announcement's message id is the quote's, so a redelivered
 * price job event or a settlement by poll yields one webhook per
 * subscription. Publishing fails → this throws → the event is retried;
 * unroutable (no queue binds quote.settled: no webhook fan-out runs, e.g.
 * adapters started without webhooks) → nobody is listening, nothing to retry.
 */
export async function onQuoteFinished(services: GatewayServices, event: QuoteFinishedEvent, attempt = 1): Promise<void> {
  const quoteId = await records.quote.byPriceJob(services.state, event.price_job_id);
  if (!quoteId) {
    // A seller's quote links its price job only once the MES has answered:
    // a fast job's event can come first. Retried (1 s, then 5 s) so the
    // quote is settled and announced without the seller polling; a job
    // still unknown then is not one of ours.
    if (event.order_id === null && attempt < QUOTE_LINK_ATTEMPTS) throw new Error(`price job ${event.price_job_id} is not linked to a quote (yet)`);
    return; // a price job of the saga (order_id set), or of no quote of ours
  }
  const quote = await records.quote.get(services.state, quoteId);
  if (!quote) return;
  const settled = await settleQuote(services, quote, { price: event.price, error: event.error });
  if (settled.status === 'pending') return;
  const body: QuoteSettledEvent = { quote_id: settled.id, seller_id: settled.seller_id, status: settled.status, price: settled.price, error: settled.error, at: settled.updated_at };
  try {
    await services.bus.publish('events', ROUTING.quoteSettled, { id: `${ROUTING.quoteSettled}:${settled.id}`, type: ROUTING.quoteSettled, body });
  } catch (error) {
    if (!isBusUnroutable(error)) throw error;
  }
}

export async function handleEvent(services: GatewayServices, delivery: Delivery): Promise<HandlerResult> {
  const { type, body } = delivery.message;
  // The operators' live feed: appended once (deduped by message id), tailed by every replica.
  const record = feedRecordOf(delivery.message);
  const appended = record ? services.feed.append(record) : undefined;
  // Issued alongside the append, so Redis gets their first commands in one write (auto-pipelining).
  // A failure of either retries the event; both are idempotent.
  let handled: Promise<void> | undefined;
  if (type === ROUTING.statusChanged) handled = onOrderStatusChanged(services, body as OrderStatusChangedEvent);
  else if (type === ROUTING.quoteReady || type === ROUTING.quoteFailed) handled = onQuoteFinished(services, body as QuoteFinishedEvent, delivery.attempt);
  else if (type === ROUTING.orderTakeRefused) handled = onTakeRefused(services, body as OrderTakeRefusedEvent);
  await Promise.all([appended, handled]);
  return 'ack';
}

export async function consumeEvents(services: GatewayServices): Promise<{ cancel(): Promise<void> }> {
  return services.bus.consume(
    {
      queue: 'gateway.events',
      bindings: [
        { exchange: 'events', pattern: ROUTING.statusChanged },
        { exchange: 'events', pattern: ROUTING.quoteReady },
        { exchange: 'events', pattern: ROUTING.quoteFailed },
        { exchange: 'events', pattern: ROUTING.orderTaken },
        { exchange: 'events', pattern: ROUTING.orderTakeRefused },
      ],
      prefetch: 50,
    },
    (delivery) => handleEvent(services, delivery),
  );
}
