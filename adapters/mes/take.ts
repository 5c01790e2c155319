// The MES adapter's take consumer: queue `mes.take-commands` on commands /
// `order.take`. Records the operator on the order in the MES (first one
// wins there too; the same operator again is a no-op, so a redelivery is
// harmless) and announces the outcome: `order.taken`, or
// `order.take_refused` when the MES does not know the order or another
// operator holds it. Event ids are deterministic, so duplicates dedupe.

import type { Bus, ConsumerSpec, Delivery, HandlerResult, Subscription } from '../../platform/bus/types.ts';
import { isBusUnroutable } from '../../platform/bus/errors.ts';
import { ROUTING, type OrderTakeRefusedEvent, type OrderTakenEvent, type TakeOrderCommand } from '../../contracts/messages.ts';
import { checker, InvalidMessageError } from '../shared/guards.ts';
import type { AdapterLogger } from '../shared/logger.ts';
import { answer } from '../shared/refusal.ts';
import type { MesClient } from './client.ts';

export const MES_TAKE_QUEUE = 'mes.take-commands';

const check = checker('order.take');

function parseTake(body: unknown): TakeOrderCommand {
  const o = check.object(body);
  return { order_id: check.string(o, 'order_id'), operator_id: check.string(o, 'operator_id'), requested_at: check.string(o, 'requested_at') };
}

export function takeHandler(bus: Bus, mes: MesClient, logger: AdapterLogger): (delivery: Delivery) => Promise<HandlerResult> {
  const announce = async (type: string, id: string, body: OrderTakenEvent | OrderTakeRefusedEvent, headers: Record<string, string>) => {
    try {
      await bus.publish('events', type, { id, type, body, headers });
    } catch (err) {
      if (!isBusUnroutable(err)) throw err;
      logger.debug({ id }, `${type} has no subscriber`);
    }
  };
  return async ({ message }) => {
    let take: TakeOrderCommand;
    try {
      take = parseTake(message.body);
    } catch (err) {
      if (err instanceof InvalidMessageError) return { dead: err.message };
      throw err;
    }
    const path = `/mes/orders/${encodeURIComponent(take.order_id)}/take`;
    const response = await mes.upstream.json({ method: 'POST', path, body: { operator_id: take.operator_id } });
    const at = new Date().toISOString();
    const headers = message.headers ?? {};
    if (response.status === 404 || response.status === 409) {
      const holder = (response.body as { operator_id?: unknown } | undefined)?.operator_id;
      const body: OrderTakeRefusedEvent = {
        order_id: take.order_id,
        operator_id: take.operator_id,
        reason: response.status === 404 ? 'unknown_order' : 'taken',
        holder: typeof holder === 'string' ? holder : null,
        at,
      };
      await announce(ROUTING.orderTakeRefused, `${take.order_id}:take_refused:${take.operator_id}`, body, headers);
      return 'ack';
    }
    // 2xx goes on; 408/425/429 throw (retried later); another 4xx is permanent.
    const res = answer('mes', response);
    if (!res.ok) return { dead: `MES refused the take of ${take.order_id}: ${res.status} ${res.error}` };
    await announce(ROUTING.orderTaken, `${take.order_id}:taken:${take.operator_id}`, { order_id: take.order_id, operator_id: take.operator_id, at }, headers);
    return 'ack';
  };
}

export function startTakeConsumer(bus: Bus, mes: MesClient, logger: AdapterLogger): Promise<Subscription> {
  const spec: ConsumerSpec = { queue: MES_TAKE_QUEUE, bindings: [{ exchange: 'commands', pattern: ROUTING.takeOrder }], prefetch: 16 };
  return bus.consume(spec, takeHandler(bus, mes, logger));
}
