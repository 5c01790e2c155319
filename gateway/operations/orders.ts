// Seller API, read side: a seller's own orders from the CRM. The CRM's
// record carries internal fields (seller_id, operator_id); the public shape
// is built field by field so none can leak.

import type { components } from '../../openapi/generated/seller-api.ts';
import type { Consumer } from '../../platform/pipeline/consumers.ts';
import { FacetError, isFacetError } from '../../platform/errors/facet-error.ts';
import { kConsumer } from '../../platform/pipeline/request-state.ts';
import { UpstreamContractError } from '../../platform/upstream/contract.ts';
import { type CrmOrderAnswer } from '../../contracts/upstream-answers.ts';
import { CRM } from '../../platform/upstream/operations.ts';
import { decodeCursor } from './cursor.ts';
import { records } from './records.ts';
import type { HandlerFactory } from './types.ts';

type Order = components['schemas']['Order'];
export type PublicOrder = Order;
type OrderList = components['schemas']['OrderList'];

interface ListOrdersQuery {
  status?: Order['status'][];
  created_from?: string;
  created_to?: string;
  limit: number;
  cursor?: string;
}

const ENDED: ReadonlySet<string> = new Set(['REJECTED', 'CANCELLED']);

export function toPublicOrder(o: CrmOrderAnswer): Order {
  // The reason the saga recorded with the final status (the CRM keeps it in the order's history).
  const reason = ENDED.has(o.status) ? o.history?.at(-1)?.reason : undefined;
  return {
    ...(reason ? { status_reason: reason.slice(0, 500) } : {}),
    id: o.id,
    status: o.status,
    created_at: o.created_at,
    updated_at: o.updated_at,
    customer: { name: o.customer.name, email: o.customer.email },
    model: { id: o.model.id, filename: o.model.filename, format: o.model.format, sha256: o.model.sha256, polygons: o.model.polygons },
    parameters: { material: o.parameters.material, size_mm: o.parameters.size_mm, finish: o.parameters.finish },
    price: o.price ? { amount_minor: o.price.amount_minor, currency: o.price.currency } : null,
    shipping: { name: o.shipping.name, line1: o.shipping.line1, city: o.shipping.city, postal_code: o.shipping.postal_code, country: o.shipping.country },
  };
}

/** The authenticated seller; a route without key-auth must never reach seller data. */
export function consumerOf(request: { [kConsumer]?: Consumer }): Consumer {
  const consumer = request[kConsumer];
  if (!consumer) throw new FacetError('FACET_ERR_AUTH_MISSING_KEY');
  return consumer;
}

export function sellerOf(request: { [kConsumer]?: Consumer }): string {
  return consumerOf(request).id;
}

export const listOrders: HandlerFactory = ({ upstream }) =>
  async function listOrdersHandler(request): Promise<OrderList> {
    const sellerId = sellerOf(request);
    const query = request.query as ListOrdersQuery;
    if (query.cursor !== undefined) decodeCursor(query.cursor);
    if (query.created_from && query.created_to && Date.parse(query.created_from) >= Date.parse(query.created_to)) {
      throw new FacetError('FACET_ERR_VALIDATION', {
        detail: 'query.created_to must be later than query.created_from',
        errors: [{ field: 'query.created_to', message: 'must be later than created_from' }],
      });
    }
    const response = await upstream.json({
      contract: CRM.listOrders,
      path: '/crm/orders',
      query: { seller_id: sellerId, status: query.status, created_from: query.created_from, created_to: query.created_to, limit: query.limit, cursor: query.cursor },
      caller: request,
    });
    if (response.status !== 200) throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `crm answered ${response.status}` });
    return { items: response.body.items.map(toPublicOrder), next_cursor: response.body.next_cursor };
  };

export const getOrder: HandlerFactory = ({ upstream, services }) =>
  async function getOrderHandler(request): Promise<Order> {
    const sellerId = sellerOf(request);
    const { id } = request.params as { id: string };
    const response = await upstream.json({ contract: CRM.getOrder, path: `/crm/orders/${encodeURIComponent(id)}`, caller: request }).catch((error: unknown) => {
      // A broken record of another seller: missing to this one, like a sound one (still logged and counted as a violation).
      const cause = isFacetError(error) ? error.cause : undefined;
      if (cause instanceof UpstreamContractError && cause.owner !== undefined && cause.owner !== sellerId) {
        request.log.warn({ code: 'FACET_ERR_UPSTREAM_BAD_RESPONSE', err: cause }, 'upstream problem');
        throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No order ${id}` });
      }
      throw error;
    });
    if (response.status === 404) {
      // Accepted by Facet, not in the CRM yet: the gateway's pending record answers.
      const pending = await records.pendingOrder.get(services.state, id, sellerId);
      if (pending) return pending;
    }
    // Another seller's order answers exactly like a missing one (no BOLA oracle).
    if (response.status === 404 || (response.status === 200 && response.body.seller_id !== sellerId)) {
      throw new FacetError('FACET_ERR_NOT_FOUND', { detail: `No order ${id}` });
    }
    if (response.status !== 200) throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `crm answered ${response.status}` });
    return toPublicOrder(response.body);
  };
