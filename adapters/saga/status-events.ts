// The canonical `order.status_changed`, one per CRM status the saga sets,
// published (confirmed) after the CRM accepted it and before the saga's
// state records it: a crash in between repeats the CRM call (a no-op) and
// the publish. Message id `<order_id>:<status>`, so such duplicates are
// recognisable downstream. An event nobody has bound a queue for is
// unroutable; for this notification that only means no subscriber yet, so
// it is logged and the saga moves on (commands and the saga's own inputs
// keep failing loudly when unroutable).

import type { Bus, BusMessage } from '../../platform/bus/types.ts';
import { isBusUnroutable } from '../../platform/bus/errors.ts';
import { ROUTING, type OrderStatus, type OrderStatusChangedEvent } from '../../contracts/messages.ts';
import type { AdapterLogger } from '../shared/logger.ts';

/** Trace context is carried from the message that caused the change. */
const PASSED_HEADERS = ['traceparent', 'tracestate'];

export function statusEventId(orderId: string, status: OrderStatus): string {
  return `${orderId}:${status}`;
}

export class StatusEvents {
  private readonly bus: Bus;
  private readonly logger: AdapterLogger;

  constructor(bus: Bus, logger: AdapterLogger) {
    this.bus = bus;
    this.logger = logger;
  }

  async publish(event: Omit<OrderStatusChangedEvent, 'at'>, cause: BusMessage): Promise<void> {
    const body: OrderStatusChangedEvent = { ...event, at: new Date().toISOString() };
    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const value = cause.headers?.[name];
      if (value !== undefined) headers[name] = value;
    }
    const message: BusMessage = { id: statusEventId(event.order_id, event.status), type: ROUTING.statusChanged, body, headers };
    try {
      await this.bus.publish('events', ROUTING.statusChanged, message);
    } catch (err) {
      if (!isBusUnroutable(err)) throw err;
      this.logger.debug({ id: message.id }, 'order.status_changed has no subscriber');
    }
  }
}
