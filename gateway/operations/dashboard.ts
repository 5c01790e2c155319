// Internal API: the operators' dashboard, from the MES. The MES filters by
// status and seller; the creation-time range is the gateway's, on the MES's
// newest-first keyset order: `created_to` starts the first page there (a
// cursor just before that instant), `created_from` ends the last page at the
// first older order.

import type { components } from '../../openapi/generated/internal-api.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';
import { MES } from '../../platform/upstream/operations.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import type { HandlerFactory } from './types.ts';

type DashboardOrder = components['schemas']['DashboardOrder'];
type DashboardOrderList = components['schemas']['DashboardOrderList'];

interface DashboardQuery {
  status?: DashboardOrder['status'][];
  seller_id?: string;
  created_from?: string;
  created_to?: string;
  limit: number;
  cursor?: string;
}

export const listDashboardOrders: HandlerFactory = ({ upstream }) =>
  async function listDashboardOrdersHandler(request): Promise<DashboardOrderList> {
    const query = request.query as DashboardQuery;
    if (query.cursor !== undefined) decodeCursor(query.cursor);
    const instant = (field: 'created_from' | 'created_to'): number | undefined => {
      const text = query[field];
      if (text === undefined) return undefined;
      const ms = Date.parse(text);
      // RFC 3339 allows a leap second (23:59:60), which JavaScript dates cannot hold.
      if (Number.isNaN(ms)) throw new FacetError('FACET_ERR_VALIDATION', { detail: `query.${field} is not an instant this API can use`, errors: [{ field: `query.${field}`, message: 'must be a date-time without a leap second' }] });
      return ms;
    };
    const from = instant('created_from');
    const to = instant('created_to');
    if (from !== undefined && to !== undefined && from >= to) {
      throw new FacetError('FACET_ERR_VALIDATION', {
        detail: 'query.created_to must be later than query.created_from',
        errors: [{ field: 'query.created_to', message: 'must be later than created_from' }],
      });
    }
    // Keyset order is (created_at, id) descending: an empty id sorts after every order created at `to`, so `to` is exclusive.
    const cursor = query.cursor ?? (to === undefined ? undefined : encodeCursor({ t: new Date(to).toISOString(), i: '' }));
    const response = await upstream.json({
      contract: MES.dashboardOrders,
      path: '/mes/dashboard/orders',
      query: { status: query.status, seller_id: query.seller_id, limit: query.limit, cursor },
      caller: request,
    });
    if (response.status !== 200) throw new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: `mes answered ${response.status}` });
    const inRange = from === undefined ? response.body.items : response.body.items.filter((o) => Date.parse(o.created_at) >= from);
    // An order older than `from` on this page: every later page is older still.
    const ended = inRange.length < response.body.items.length;
    return {
      items: inRange.map((o) => ({
        order_id: o.order_id,
        // The MES sends null for an order it heard of without a seller, where the internal
        // spec documents strings (an open item in docs/security.md): passed on as before.
        seller_id: o.seller_id as string,
        seller_name: o.seller_name as string,
        status: o.status,
        created_at: o.created_at,
        updated_at: o.updated_at,
        model_id: o.model_id,
        material: o.material,
        finish: o.finish,
        operator_id: o.operator_id,
      })),
      next_cursor: ended ? null : response.body.next_cursor,
    };
  };
