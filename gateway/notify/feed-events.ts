// Which bus events the operators' feed shows, and how: an order's first
// status is `order.created`, later ones `order.status_changed`; takes are
// `order.taken` / `order.take_refused`. The feed entry's data is the
// event's body plus its id.

import type { BusMessage } from '../../platform/bus/types.ts';
import type { OrderStatusChangedEvent } from '../../contracts/messages.ts';
import { ROUTING } from '../../contracts/messages.ts';
import type { FeedRecord } from './feed-log.ts';

export function feedRecordOf(message: BusMessage): FeedRecord | undefined {
  if (message.type === ROUTING.statusChanged) {
    const body = message.body as OrderStatusChangedEvent;
    const type = body.previous_status === null ? 'order.created' : 'order.status_changed';
    return { eventId: message.id, type, status: body.status, data: JSON.stringify({ event_id: message.id, ...body }) };
  }
  if (message.type === ROUTING.orderTaken || message.type === ROUTING.orderTakeRefused) {
    return { eventId: message.id, type: message.type, status: null, data: JSON.stringify({ event_id: message.id, ...(message.body as object) }) };
  }
  return undefined;
}
