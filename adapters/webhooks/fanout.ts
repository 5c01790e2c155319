// Turns sellers' events (order status changes, settled quotes) into webhook
// deliveries: for each subscription of the event's seller that wants the
// event type, a delivery record (the exact
// payload, signed on every attempt) and a `webhook.deliver` command. The
// delivery id is derived from the subscription and the event's message id,
// so a redelivered event creates nothing twice (the command may be sent
// again; the sender skips deliveries that already succeeded). Only the
// seller's own subscriptions are looked at.

import { createHash } from 'node:crypto';
import type { Bus, Delivery as BusDelivery, HandlerResult } from '../../platform/bus/types.ts';
import { ROUTING, type OrderStatusChangedEvent, type QuoteSettledEvent, type WebhookDeliverCommand } from '../../contracts/messages.ts';
import type { WebhookStore } from '../../platform/webhooks/store.ts';

export const WEBHOOK_EVENTS_QUEUE = 'webhooks.order-events';

export function deliveryIdOf(subscriptionId: string, eventId: string): string {
  return `msg_${createHash('sha256').update(`${subscriptionId}|${eventId}`).digest('base64url').slice(0, 27)}`;
}

/** The Standard Webhooks payload: type, timestamp, data. */
export function statusPayload(event: OrderStatusChangedEvent): string {
  const { order_id, status, previous_status, reason, at } = event;
  return JSON.stringify({ type: ROUTING.statusChanged, timestamp: at, data: { order_id, status, previous_status, reason, at } });
}

export function quotePayload(event: QuoteSettledEvent): string {
  const { quote_id, status, price, error, at } = event;
  return JSON.stringify({ type: ROUTING.quoteSettled, timestamp: at, data: { quote_id, status, price, error, at } });
}

/** The event's seller and its webhook body, or why the message cannot be one. */
function webhookOf(type: string, body: unknown): { sellerId: string; payload: string } | { dead: string } | undefined {
  if (type === ROUTING.statusChanged) {
    const event = body as OrderStatusChangedEvent;
    if (typeof event?.seller_id !== 'string' || typeof event.order_id !== 'string') return { dead: 'order.status_changed without seller_id/order_id' };
    return { sellerId: event.seller_id, payload: statusPayload(event) };
  }
  if (type === ROUTING.quoteSettled) {
    const event = body as QuoteSettledEvent;
    if (typeof event?.seller_id !== 'string' || typeof event.quote_id !== 'string') return { dead: 'quote.settled without seller_id/quote_id' };
    return { sellerId: event.seller_id, payload: quotePayload(event) };
  }
  return undefined;
}

export function fanoutHandler(bus: Bus, store: WebhookStore): (delivery: BusDelivery) => Promise<HandlerResult> {
  return async ({ message }) => {
    const webhook = webhookOf(message.type, message.body);
    if (webhook === undefined) return 'ack';
    if ('dead' in webhook) return webhook;
    const subscriptions = (await store.listSubscriptions(webhook.sellerId)).filter((s) => s.event_types.includes(message.type));
    const now = new Date().toISOString();
    for (const subscription of subscriptions) {
      const id = deliveryIdOf(subscription.id, message.id);
      await store.createDelivery({ id, subscription_id: subscription.id, seller_id: subscription.seller_id, event_type: message.type, payload: webhook.payload, status: 'pending', attempts: [], created_at: now, updated_at: now });
      const command: WebhookDeliverCommand = { delivery_id: id, replay: false };
      await bus.publish('commands', ROUTING.webhookDeliver, { id, type: ROUTING.webhookDeliver, body: command, headers: message.headers ?? {} });
    }
    return 'ack';
  };
}
