// What the saga consumes, checked before any work: a body that fails is
// poison and parked with the reason. Each yields the order it is about.

import type { CancelOrderCommand, PlaceOrderCommand, QuoteFinishedEvent } from '../../contracts/messages.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { MES_MANUFACTURING_STATUSES } from '../mes/legacy.ts';
import { MES_MANUFACTURING_CHANGED, type MesManufacturingChangedEvent } from '../mes/messages.ts';
import { checker, InvalidMessageError } from '../shared/guards.ts';
import type { Price } from '../../contracts/orders.ts';

export type Inbound =
  | { kind: 'place'; orderId: string; body: PlaceOrderCommand }
  | { kind: 'cancel'; orderId: string; body: CancelOrderCommand }
  | { kind: 'quote'; orderId: string | null; body: QuoteFinishedEvent }
  | { kind: 'manufacturing'; orderId: string; body: MesManufacturingChangedEvent };

function place(raw: unknown): PlaceOrderCommand {
  const c = checker(ROUTING.placeOrder);
  const b = c.object(raw);
  c.string(b, 'order_id');
  c.string(b, 'seller_id');
  for (const key of ['customer', 'shipping', 'model', 'parameters']) c.object(b[key], key);
  c.string(c.object(b.model, 'model'), 'id');
  const price = c.objectOrNull(b, 'price');
  if (price && (typeof price.amount_minor !== 'number' || typeof price.currency !== 'string')) {
    throw new InvalidMessageError(ROUTING.placeOrder, 'price must have amount_minor and currency');
  }
  return b as unknown as PlaceOrderCommand;
}

function cancel(raw: unknown): CancelOrderCommand {
  const c = checker(ROUTING.cancelOrder);
  const b = c.object(raw);
  c.string(b, 'order_id');
  c.string(b, 'seller_id');
  c.string(b, 'reason');
  return b as unknown as CancelOrderCommand;
}

function quote(raw: unknown, type: string): QuoteFinishedEvent {
  const c = checker(type);
  const b = c.object(raw);
  c.string(b, 'price_job_id');
  c.stringOrNull(b, 'order_id');
  const price = c.objectOrNull(b, 'price') as Price | null;
  if (type === ROUTING.quoteReady && !price) throw new InvalidMessageError(type, 'price is required');
  return b as unknown as QuoteFinishedEvent;
}

function manufacturing(raw: unknown): MesManufacturingChangedEvent {
  const c = checker(MES_MANUFACTURING_CHANGED);
  const b = c.object(raw);
  c.string(b, 'order_id');
  c.oneOf(b, 'status', MES_MANUFACTURING_STATUSES);
  return b as unknown as MesManufacturingChangedEvent;
}

/** Throws InvalidMessageError for an unknown routing key or a malformed body. */
export function readInbound(routingKey: string, body: unknown): Inbound {
  switch (routingKey) {
    case ROUTING.placeOrder: {
      const b = place(body);
      return { kind: 'place', orderId: b.order_id, body: b };
    }
    case ROUTING.cancelOrder: {
      const b = cancel(body);
      return { kind: 'cancel', orderId: b.order_id, body: b };
    }
    case ROUTING.quoteReady:
    case ROUTING.quoteFailed: {
      const b = quote(body, routingKey);
      return { kind: 'quote', orderId: b.order_id, body: b };
    }
    case MES_MANUFACTURING_CHANGED: {
      const b = manufacturing(body);
      return { kind: 'manufacturing', orderId: b.order_id, body: b };
    }
    default:
      throw new InvalidMessageError(routingKey, 'the saga does not handle this message type');
  }
}
