// CRM data: sellers and orders, indexed by id and by seller (each list newest first).
import { ORDER_STATUSES } from '../../contracts/orders.ts';
import { compareNewestFirst } from '../data/seed.ts';
import type { Order, OrderStatus, Seller } from '../../contracts/orders.ts';
import type { Dataset } from '../data/seed.ts';
import { insertNewestFirst, paginate } from '../shared/cursor.ts';
import type { CursorKey, Page } from '../shared/cursor.ts';

export interface StatusChange {
  status: OrderStatus;
  at: string;
  reason: string | null;
}

/** A CRM order; `history` appears once its status has been changed through the API. */
export type CrmOrder = Order & { history?: StatusChange[] };

export interface OrderQuery {
  sellerId?: string | undefined;
  statuses?: ReadonlySet<OrderStatus> | undefined;
  createdFrom?: string | undefined;
  createdTo?: string | undefined;
  after?: CursorKey | undefined;
  limit: number;
}

export type NewOrder = Omit<Order, 'status' | 'created_at' | 'updated_at' | 'price' | 'operator_id'> & {
  status?: OrderStatus;
  price?: Order['price'];
  operator_id?: string | null;
};

export interface CrmStats {
  orders: number;
  by_status: Record<OrderStatus, number>;
}

const keyOf = (order: Order): CursorKey => ({ t: order.created_at, i: order.id });

export class CrmStore {
  readonly sellers: readonly Seller[];
  private readonly sellersById: Map<string, Seller>;
  /** All orders, newest first. */
  private readonly orders: CrmOrder[];
  private readonly byId = new Map<string, CrmOrder>();
  private readonly bySeller = new Map<string, CrmOrder[]>();
  private readonly now: () => string;

  /** Takes ownership of the dataset's order objects (status changes mutate them). */
  constructor(dataset: Dataset, now: () => string = () => new Date().toISOString()) {
    this.now = now;
    this.sellers = dataset.sellers;
    this.sellersById = new Map(dataset.sellers.map((s) => [s.id, s]));
    this.orders = [...dataset.orders].sort(compareNewestFirst);
    for (const seller of dataset.sellers) this.bySeller.set(seller.id, []);
    for (const order of this.orders) {
      this.byId.set(order.id, order);
      this.sellerList(order.seller_id).push(order);
    }
  }

  private sellerList(sellerId: string): CrmOrder[] {
    let list = this.bySeller.get(sellerId);
    if (!list) {
      list = [];
      this.bySeller.set(sellerId, list);
    }
    return list;
  }

  get size(): number {
    return this.orders.length;
  }

  getSeller(id: string): Seller | undefined {
    return this.sellersById.get(id);
  }

  getOrder(id: string): CrmOrder | undefined {
    return this.byId.get(id);
  }

  listOrders(query: OrderQuery): Page<CrmOrder> {
    const list = query.sellerId === undefined ? this.orders : (this.bySeller.get(query.sellerId) ?? []);
    const statuses = query.statuses;
    return paginate(list, keyOf, {
      after: query.after,
      createdFrom: query.createdFrom,
      createdTo: query.createdTo,
      match: statuses ? (order) => statuses.has(order.status) : undefined,
      limit: query.limit,
    });
  }

  /** Idempotent by id: returns the existing order (created = false) when the id is known. */
  createOrder(input: NewOrder): { order: CrmOrder; created: boolean } {
    const existing = this.byId.get(input.id);
    if (existing) return { order: existing, created: false };
    const at = this.now();
    const order: CrmOrder = {
      id: input.id,
      seller_id: input.seller_id,
      status: input.status ?? 'SUBMITTED',
      created_at: at,
      updated_at: at,
      customer: input.customer,
      model: input.model,
      parameters: input.parameters,
      price: input.price ?? null,
      shipping: input.shipping,
      operator_id: input.operator_id ?? null,
    };
    order.history = [{ status: order.status, at, reason: 'created' }];
    this.byId.set(order.id, order);
    insertNewestFirst(this.orders, order, keyOf);
    insertNewestFirst(this.sellerList(order.seller_id), order, keyOf);
    return { order, created: true };
  }

  /**
   * Sets the status (and the price, when given); setting the current status
   * again changes nothing (idempotent).
   */
  setStatus(id: string, status: OrderStatus, reason?: string, price?: Order['price']): CrmOrder | undefined {
    const order = this.byId.get(id);
    if (!order) return undefined;
    if (price !== undefined && JSON.stringify(price) !== JSON.stringify(order.price)) {
      order.price = price;
      order.updated_at = this.now();
    }
    if (order.status === status) return order;
    const at = this.now();
    order.status = status;
    order.updated_at = at;
    (order.history ??= []).push({ status, at, reason: reason ?? null });
    return order;
  }

  stats(sellerId?: string): CrmStats {
    const list = sellerId === undefined ? this.orders : (this.bySeller.get(sellerId) ?? []);
    const byStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
    for (const order of list) byStatus[order.status]++;
    return { orders: list.length, by_status: byStatus };
  }
}
