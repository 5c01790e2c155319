// What the notification scenarios (sse-delivery, webhook-delivery) share:
// synthetic order events of the run's own seller, published on the run's
// bus and timed, and the clean-up of what they leave in Redis.

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { isBusUnroutable } from '../../../platform/bus/index.ts';
import type { Bus, BusMessage } from '../../../platform/bus/index.ts';
import { ROUTING } from '../../../contracts/messages.ts';
import type { OrderStatusChangedEvent } from '../../../contracts/messages.ts';
import type { DeliveryLog } from '../deliveries.ts';

export interface OrderEvent {
  /** What a receiver reads back to say which event arrived: the order id. */
  key: string;
  message: BusMessage;
  body: OrderStatusChangedEvent;
}

/**
 * Status changes of new orders of one seller of the run's own
 * (`slr_bench<random>`: no real seller's cache generation is bumped by
 * them), each order id new (`ord_<tag>_<n>`), each message id new.
 */
export class OrderEvents {
  readonly sellerId: string;
  readonly tag: string;
  /** Every message id handed out (the gateway's feed dedupe keys, the webhook deliveries' ids derive from them). */
  readonly messageIds: string[] = [];
  #next = 0;

  constructor() {
    const random = randomBytes(4).toString('hex');
    this.tag = `bench${random}`;
    this.sellerId = `slr_bench${random}`;
  }

  next(): OrderEvent {
    const orderId = `ord_${this.tag}_${this.#next++}`;
    const body: OrderStatusChangedEvent = { order_id: orderId, seller_id: this.sellerId, status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null, at: new Date().toISOString() };
    const message: BusMessage = { id: `${orderId}:PRICE_CALCULATED`, type: ROUTING.statusChanged, body };
    this.messageIds.push(message.id);
    return { key: orderId, message, body };
  }
}

/** Publishes `event` on the events exchange (confirmed, not waited for) and notes in `log` when it was sent. */
export function publishTimed(bus: Bus, log: DeliveryLog, event: OrderEvent): Promise<void> {
  log.sent(event.key);
  return bus.publish('events', ROUTING.statusChanged, event.message).catch(() => log.sendFailed());
}

/**
 * Waits until `order.status_changed` is routable on the run's events
 * exchange, i.e. its consumers have declared their queues (a process's
 * readiness probe may answer before that): publishes one event of a seller
 * without subscriptions until the broker routes it.
 */
export async function untilRoutable(bus: Bus, events: OrderEvents, signal: AbortSignal, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = events.next();
    try {
      await bus.publish('events', ROUTING.statusChanged, { ...probe.message, body: { ...probe.body, seller_id: `${events.sellerId}_probe` } });
      return;
    } catch (error) {
      if (!isBusUnroutable(error) || Date.now() > deadline) throw new Error(`order.status_changed not routable on the run's bus after ${timeoutMs} ms: ${String(error)}`, { cause: error });
    }
    await sleep(100, undefined, { signal });
  }
}

/** Deletes `keys` (in batches); returns how many existed. */
export async function deleteKeys(redis: Redis, keys: readonly string[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 1000) deleted += await redis.del(...keys.slice(i, i + 1000));
  return deleted;
}
