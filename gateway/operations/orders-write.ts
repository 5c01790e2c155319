// POST /v1/orders and POST /v1/orders/{id}/cancel. An order is recorded as
// pending, its command published on a confirm channel, and only the
// broker's confirm turns it into 202 + Location; a broker that refuses it
// leaves nothing behind (the pending record is removed) and the client gets
// 503 FACET_ERR_BUS_UNAVAILABLE; a confirm that never comes is 503
// FACET_ERR_OUTCOME_UNKNOWN (the order may still arrive; the idempotency key
// stays bound, a retry carries the same order id). The saga (adapters/saga)
// does the rest.

import type { PlaceOrderCommand, CancelOrderCommand } from '../../contracts/messages.ts';
import { ROUTING } from '../../contracts/messages.ts';
import type { OrderParameters, OrderStatus } from '../../contracts/orders.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { limitsFor } from '../../platform/pipeline/plan-limits.ts';
import { bodyFingerprint } from '../../platform/pipeline/fingerprint.ts';
import { CRM } from '../../platform/upstream/operations.ts';
import { consumerOf, toPublicOrder, type PublicOrder } from './orders.ts';
import { derivedId, newId, PRICE_JOB_SLOT_MS, PRICE_JOBS_RETRY_AFTER_SEC } from './quotes.ts';
import { records } from './records.ts';
import { publishCommand } from './commands.ts';
import type { HandlerFactory } from './types.ts';
import type { GatewayServices } from '../services.ts';

interface CreateOrderBody {
  quote_id?: string;
  model_id?: string;
  parameters?: OrderParameters;
  customer: PublicOrder['customer'];
  shipping: PublicOrder['shipping'];
}

const NOT_CANCELLABLE: ReadonlySet<OrderStatus> = new Set(['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED', 'CLOSED', 'CANCELLED', 'REJECTED']);

export const createOrder: HandlerFactory = ({ services }) =>
  async function createOrderHandler(request, reply): Promise<PublicOrder> {
    const { id: sellerId, plan } = consumerOf(request);
    const body = request.body as CreateOrderBody;
    let modelId: string;
    let parameters: OrderParameters;
    let price = null;
    let quoteId: string | null = null;
    if (body.quote_id !== undefined) {
      if (body.model_id !== undefined || body.parameters !== undefined) {
        throw new FacetError('FACET_ERR_VALIDATION', { errors: [{ field: 'body.quote_id', message: 'give either quote_id, or model_id and parameters' }] });
      }
      const quote = await records.quote.get(services.state, body.quote_id, sellerId);
      if (!quote) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No quote ${body.quote_id}`, errors: [{ field: 'body.quote_id', message: 'is not one of your quotes' }] });
      if (quote.status !== 'ready') throw new FacetError('FACET_ERR_VALIDATION', { errors: [{ field: 'body.quote_id', message: `is ${quote.status}, not ready` }] });
      ({ model_id: modelId, parameters } = quote);
      price = quote.price;
      quoteId = quote.id;
    } else if (body.model_id !== undefined && body.parameters !== undefined) {
      modelId = body.model_id;
      parameters = body.parameters;
    } else {
      throw new FacetError('FACET_ERR_VALIDATION', { errors: [{ field: 'body.quote_id', message: 'give either quote_id, or model_id and parameters' }] });
    }
    const idempotencyKey = request.headers['idempotency-key'];
    // Derived from the seller, its Idempotency-Key and the request: if a replica dies after the broker
    // confirmed but before the key was marked done, the key's in-flight hold expires and the
    // seller's retry publishes the same order id again, which the saga recognises (no second order).
    // The body's fingerprint is part of it: a key reused for another order (once its record is gone: expired,
    // or forgotten after an error) gets another order id, never one the saga would take for a duplicate and drop.
    const orderId = typeof idempotencyKey === 'string' ? derivedId('ord_', ['order', sellerId, idempotencyKey, bodyFingerprint(request.body)]) : newId('ord_');
    // The model's record and, for an order without a price, a price-job slot (the saga starts an MES price job:
    // it takes one of the plan's slots, as a quote does), asked of Redis together: one round trip, not two.
    const [modelRead, slotTaken] = await Promise.allSettled([
      records.model.get(services.state, modelId, sellerId),
      price === null ? holdPriceJobSlot(services, sellerId, plan, orderId) : Promise.resolve(undefined),
    ]);
    const priceJob = slotTaken.status === 'fulfilled' ? slotTaken.value : undefined;
    const model = modelRead.status === 'fulfilled' ? modelRead.value : undefined;
    if (!model) {
      // (A retry of this order whose model has since expired frees the first attempt's slot early: the cap under-counts, never refuses.)
      if (priceJob) await services.state.removeMember(priceJob.key, priceJob.member).catch(() => {});
      if (modelRead.status === 'rejected') throw modelRead.reason;
      throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No model ${modelId}`, errors: [{ field: 'body.model_id', message: 'is not one of your models' }] });
    }
    if (slotTaken.status === 'rejected') throw slotTaken.reason;

    const now = new Date().toISOString();
    const modelRef = { id: model.id, filename: model.filename, format: model.format, sha256: model.sha256, polygons: model.polygons };
    const order: PublicOrder = { id: orderId, status: 'SUBMITTED', created_at: now, updated_at: now, customer: body.customer, model: modelRef, parameters, price, shipping: body.shipping };
    const command: PlaceOrderCommand = { order_id: order.id, seller_id: sellerId, customer: body.customer, shipping: body.shipping, model: modelRef, parameters, price, quote_id: quoteId, placed_at: now };

    try {
      await records.pendingOrder.put(services.state, sellerId, order);
      await publishCommand(
        services.bus,
        ROUTING.placeOrder,
        { id: order.id, body: command },
        'The order could not be handed to the broker; nothing was recorded. Retry with the same Idempotency-Key.',
        `The broker did not confirm the order in time: order ${order.id} may still be placed. Retry with the same Idempotency-Key and body: you get this order, never a second one.`,
      );
    } catch (error) {
      // Shown once the CRM has it, if it arrives; a retry records it again.
      await records.pendingOrder.remove(services.state, order.id).catch(() => {});
      // Its price job may start: the slot is kept (freed by the order's status change, or on its own).
      const unknown = error instanceof FacetError && error.code === 'FACET_ERR_OUTCOME_UNKNOWN';
      if (priceJob && !unknown) await services.state.removeMember(priceJob.key, priceJob.member).catch(() => {});
      throw error;
    }
    // The seller's cached list drops its pages, so the next read shows this order.
    void services.orderChanges.notify({ sellerId, kind: 'accepted' }).catch(() => {});
    reply.code(202).header('location', `/v1/orders/${order.id}`);
    return order;
  };

/**
 * Takes a slot of the plan's `concurrentPriceJobs` for an order's price job
 * (the same set as quotes', member `order:<id>`: a retry of the same order
 * takes no second slot); freed when the order's first status change arrives
 * (gateway/events.ts), or on its own after the longest plausible job.
 */
async function holdPriceJobSlot(services: GatewayServices, sellerId: string, plan: string, orderId: string): Promise<{ key: string; member: string }> {
  const cap = limitsFor(services.config, sellerId, plan).concurrentPriceJobs;
  const key = records.priceJobs.key(sellerId);
  const member = records.priceJobs.orderMember(orderId);
  const live = await services.state.addUntil(key, member, Date.now() + PRICE_JOB_SLOT_MS);
  if (live > cap) {
    await services.state.removeMember(key, member);
    throw new FacetError('FACET_ERR_PRICE_JOBS_LIMIT', {
      detail: `Plan ${plan} allows ${cap} price jobs at a time; an order without a quote starts one. Order from a ready quote, or retry later`,
      headers: { 'retry-after': PRICE_JOBS_RETRY_AFTER_SEC },
    });
  }
  return { key, member };
}

export const cancelOrder: HandlerFactory = ({ upstream, services }) =>
  async function cancelOrderHandler(request, reply): Promise<{ id: string; status: OrderStatus; cancellation: 'requested' }> {
    const sellerId = consumerOf(request).id;
    const { id } = request.params as { id: string };
    const reason = (request.body as { reason?: string } | undefined)?.reason ?? 'cancelled by the seller';
    const crm = await upstream.json({ contract: CRM.getOrder, path: `/crm/orders/${encodeURIComponent(id)}`, caller: request });
    let status: OrderStatus | undefined;
    if (crm.status === 200 && crm.body.seller_id === sellerId) status = toPublicOrder(crm.body).status;
    else status = (await records.pendingOrder.get(services.state, id, sellerId))?.status;
    if (!status) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No order ${id}` });
    if (NOT_CANCELLABLE.has(status)) throw new FacetError('FACET_ERR_ORDER_NOT_CANCELLABLE', { detail: `The order is ${status}` });
    const command: CancelOrderCommand = { order_id: id, seller_id: sellerId, reason, requested_at: new Date().toISOString() };
    await publishCommand(services.bus, ROUTING.cancelOrder, { id: `${id}:cancel`, body: command }, 'The cancellation could not be handed to the broker; retry.');
    reply.code(202);
    return { id, status, cancellation: 'requested' };
  };
