// POST /internal/v1/orders/{id}/take: an operator claims an order. The
// claim is one SET NX in the shared store, so among operators racing on any
// replicas exactly one wins (202); the others get 409 naming no one. The
// winner's `order.take` command goes to the MES adapter through the bus
// (confirmed, or the claim is released and the answer is 503); the MES
// records it and `order.taken` reaches the live stream. If the MES refuses
// (`order.take_refused`), the claim is released again.

import { ROUTING, type OrderTakeRefusedEvent, type TakeOrderCommand } from '../../contracts/messages.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { kOperator } from '../../platform/pipeline/request-state.ts';
import type { GatewayServices } from '../services.ts';
import { CRM } from '../../platform/upstream/operations.ts';
import { records } from './records.ts';
import { publishCommand } from './commands.ts';
import type { HandlerFactory } from './types.ts';

const CLAIM_TTL_SEC = 90 * 86_400;
/** What the MES accepts as an operator id. */
const OPERATOR_ID = /^[A-Za-z0-9_-]{1,64}$/;
const claimKey = (orderId: string) => `facet:take:${orderId}`;

export interface TakeAccepted {
  order_id: string;
  operator_id: string;
  status: 'requested';
}

export const takeOrder: HandlerFactory = ({ upstream, services }) =>
  async function takeOrderHandler(request, reply): Promise<TakeAccepted> {
    const { id } = request.params as { id: string };
    const operatorId = request[kOperator]?.subject ?? '';
    if (!OPERATOR_ID.test(operatorId)) throw new FacetError('FACET_ERR_AUTH_FORBIDDEN', { detail: "Taking an order needs a token whose sub is an operator id (1-64 of A-Z a-z 0-9 _ -)" });
    // The order must exist: in the CRM, or still pending at the gateway.
    const crm = await upstream.json({ contract: CRM.getOrder, path: `/crm/orders/${encodeURIComponent(id)}` });
    if (crm.status !== 200 && !(await records.pendingOrder.getAny(services.state, id))) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No order ${id}` });

    if (!(await services.state.setIfAbsent(claimKey(id), operatorId, CLAIM_TTL_SEC))) {
      const holder = await services.state.get(claimKey(id));
      if (holder !== operatorId) throw new FacetError('FACET_ERR_ORDER_TAKEN', { detail: `Order ${id} is already taken by another operator` });
      // The same operator again: the same answer (the command is idempotent downstream too).
    }
    const command: TakeOrderCommand = { order_id: id, operator_id: operatorId, requested_at: new Date().toISOString() };
    try {
      await publishCommand(services.bus, ROUTING.takeOrder, { id: `${id}:take:${operatorId}`, body: command }, 'The take could not be handed to the broker; nothing was recorded. Retry.');
    } catch (error) {
      await releaseTake(services, id, operatorId).catch(() => {});
      throw error;
    }
    reply.code(202);
    return { order_id: id, operator_id: operatorId, status: 'requested' };
  };

/** Frees the claim if `operatorId` still holds it. */
export async function releaseTake(services: GatewayServices, orderId: string, operatorId: string): Promise<void> {
  if ((await services.state.get(claimKey(orderId))) === operatorId) await services.state.delete(claimKey(orderId));
}

/** The MES did not record the take: the order is free to take again. */
export function onTakeRefused(services: GatewayServices, event: OrderTakeRefusedEvent): Promise<void> {
  return releaseTake(services, event.order_id, event.operator_id);
}
