// Canonical messages between the gateway and the adapters (documented in
// openapi/asyncapi.yaml). Message ids are the consumers' dedupe keys.

import type { OrderModel, OrderParameters, OrderStatus, Price, ShippingAddress, Customer } from './orders.ts';

export type { OrderStatus };

/** commands / `order.place`: the gateway accepted an order (202). */
export interface PlaceOrderCommand {
  order_id: string;
  seller_id: string;
  customer: Customer;
  shipping: ShippingAddress;
  model: OrderModel;
  parameters: OrderParameters;
  /** Known when the order comes from a ready quote: the saga then skips pricing. */
  price: Price | null;
  quote_id: string | null;
  placed_at: string;
}

/** commands / `order.cancel`: accepted until manufacturing starts. */
export interface CancelOrderCommand {
  order_id: string;
  seller_id: string;
  reason: string;
  requested_at: string;
}

/** events / `order.status_changed`: every status an order takes, in order. */
export interface OrderStatusChangedEvent {
  order_id: string;
  seller_id: string;
  status: OrderStatus;
  previous_status: OrderStatus | null;
  /** Why, for REJECTED / CANCELLED (e.g. `mes_capacity`, `price_job_failed`). */
  reason: string | null;
  at: string;
}

/** events / `quote.ready` and `quote.failed`: a MES price job finished. */
export interface QuoteFinishedEvent {
  price_job_id: string;
  model_id: string;
  order_id: string | null;
  parameters: OrderParameters;
  price: Price | null;
  error: string | null;
  at: string;
}

/**
 * events / `quote.settled`: a seller's pending quote got its price or
 * failed, as the gateway recorded it; what sellers' `quote.settled`
 * webhooks carry.
 */
export interface QuoteSettledEvent {
  quote_id: string;
  seller_id: string;
  status: 'ready' | 'failed';
  price: Price | null;
  error: string | null;
  at: string;
}

/** commands / `order.take`: an operator claimed the order at the gateway (202); the MES records it. */
export interface TakeOrderCommand {
  order_id: string;
  operator_id: string;
  requested_at: string;
}

/** events / `order.taken`: the MES recorded the operator on the order. */
export interface OrderTakenEvent {
  order_id: string;
  operator_id: string;
  at: string;
}

/** events / `order.take_refused`: the MES did not record the take (`unknown_order`, or `taken` by `holder`). */
export interface OrderTakeRefusedEvent {
  order_id: string;
  operator_id: string;
  reason: 'unknown_order' | 'taken';
  holder: string | null;
  at: string;
}

/** commands / `webhook.deliver`: send (or resend) one webhook delivery; the delivery record holds the payload. */
export interface WebhookDeliverCommand {
  delivery_id: string;
  /** A seller's replay: sent again even if it succeeded before. */
  replay: boolean;
}

export const ROUTING = {
  placeOrder: 'order.place',
  cancelOrder: 'order.cancel',
  takeOrder: 'order.take',
  orderTaken: 'order.taken',
  orderTakeRefused: 'order.take_refused',
  webhookDeliver: 'webhook.deliver',
  statusChanged: 'order.status_changed',
  quoteReady: 'quote.ready',
  quoteFailed: 'quote.failed',
  quoteSettled: 'quote.settled',
  /** The MES's own events, as it publishes them: `mes.legacy.<EventType>`. */
  mesLegacy: 'mes.legacy.*',
} as const;

/** Event types a seller's webhook subscription can ask for. */
export const WEBHOOK_EVENT_TYPES = [ROUTING.statusChanged, ROUTING.quoteSettled] as const;
