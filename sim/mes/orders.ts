// MES's own copy of the orders, as its operators' dashboard shows them.
import { compareNewestFirst } from '../data/seed.ts';
import type { Order, OrderParameters, OrderStatus } from '../../contracts/orders.ts';
import type { Dataset } from '../data/seed.ts';
import { insertNewestFirst, paginate } from '../shared/cursor.ts';
import type { CursorKey, Page } from '../shared/cursor.ts';

export interface DashboardOrder {
  order_id: string;
  /** null for an order MES first heard of without a seller. */
  seller_id: string | null;
  seller_name: string | null;
  status: OrderStatus;
  created_at: string;
  updated_at: string;
  model_id: string;
  material: OrderParameters['material'];
  finish: OrderParameters['finish'];
  operator_id: string | null;
}

export interface DashboardQuery {
  statuses?: ReadonlySet<OrderStatus> | undefined;
  sellerId?: string | undefined;
  after?: CursorKey | undefined;
  limit: number;
}

export type TakeResult = { ok: true; order: DashboardOrder } | { ok: false; order: DashboardOrder | undefined };

const keyOf = (order: DashboardOrder): CursorKey => ({ t: order.created_at, i: order.order_id });

export class MesOrders {
  private readonly list: DashboardOrder[] = [];
  private readonly byId = new Map<string, DashboardOrder>();
  private readonly sellerNames: Map<string, string>;
  private readonly now: () => string;

  constructor(dataset: Dataset, now: () => string) {
    this.now = now;
    this.sellerNames = new Map(dataset.sellers.map((s) => [s.id, s.name]));
    for (const order of dataset.orders) this.list.push(this.fromOrder(order));
    this.list.sort((a, b) => compareNewestFirst(asSortable(a), asSortable(b)));
    for (const order of this.list) this.byId.set(order.order_id, order);
  }

  private fromOrder(order: Order): DashboardOrder {
    return {
      order_id: order.id,
      seller_id: order.seller_id,
      seller_name: this.sellerNames.get(order.seller_id) ?? null,
      status: order.status,
      created_at: order.created_at,
      updated_at: order.updated_at,
      model_id: order.model.id,
      material: order.parameters.material,
      finish: order.parameters.finish,
      operator_id: order.operator_id,
    };
  }

  get size(): number {
    return this.list.length;
  }

  get(orderId: string): DashboardOrder | undefined {
    return this.byId.get(orderId);
  }

  /** One dashboard page plus `total`, the number of orders matching the filter. */
  page(query: DashboardQuery): Page<DashboardOrder> & { total: number } {
    const { statuses, sellerId } = query;
    const match =
      statuses || sellerId !== undefined
        ? (o: DashboardOrder) => (!statuses || statuses.has(o.status)) && (sellerId === undefined || o.seller_id === sellerId)
        : undefined;
    const page = paginate(this.list, keyOf, { after: query.after, match, limit: query.limit });
    let total = this.list.length;
    if (match) {
      total = 0;
      for (const order of this.list) if (match(order)) total++;
    }
    return { ...page, total };
  }

  /** The order, added (newest, status `status`) when MES has not seen it yet. */
  ensure(
    orderId: string,
    init: { modelId: string; parameters: OrderParameters; sellerId?: string | undefined; status: OrderStatus },
  ): DashboardOrder {
    const existing = this.byId.get(orderId);
    if (existing) return existing;
    const at = this.now();
    const sellerId = init.sellerId ?? null;
    const order: DashboardOrder = {
      order_id: orderId,
      seller_id: sellerId,
      seller_name: sellerId === null ? null : (this.sellerNames.get(sellerId) ?? null),
      status: init.status,
      created_at: at,
      updated_at: at,
      model_id: init.modelId,
      material: init.parameters.material,
      finish: init.parameters.finish,
      operator_id: null,
    };
    this.byId.set(orderId, order);
    insertNewestFirst(this.list, order, keyOf);
    return order;
  }

  setStatus(orderId: string, status: OrderStatus): DashboardOrder | undefined {
    const order = this.byId.get(orderId);
    if (order && order.status !== status) {
      order.status = status;
      order.updated_at = this.now();
    }
    return order;
  }

  /** An operator takes an order: the first one wins; the same operator again is a no-op. */
  take(orderId: string, operatorId: string): TakeResult {
    const order = this.byId.get(orderId);
    if (!order) return { ok: false, order: undefined };
    if (order.operator_id !== null && order.operator_id !== operatorId) return { ok: false, order };
    if (order.operator_id === null) {
      order.operator_id = operatorId;
      order.updated_at = this.now();
    }
    return { ok: true, order };
  }
}

function asSortable(order: DashboardOrder): { created_at: string; id: string } {
  return { created_at: order.created_at, id: order.order_id };
}
