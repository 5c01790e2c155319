// The gateway's own records of the write path, in the shared state store.
// A model, quote or pending order belongs to one seller; every read checks it,
// so another seller's id answers exactly like a missing one.

import type { OrderModel, OrderParameters, OrderStatus, Price } from '../../contracts/orders.ts';
import type { components } from '../../openapi/generated/seller-api.ts';
import type { KeyValueStore } from '../../platform/state/kv.ts';

/** An order as the seller API shows it (what a pending record holds until the CRM has the order). */
type PublicOrder = components['schemas']['Order'];

const DAY = 86_400;

export interface ModelRecord extends OrderModel {
  seller_id: string;
  size_bytes: number;
  created_at: string;
}

export interface QuoteRecord {
  id: string;
  seller_id: string;
  status: 'pending' | 'ready' | 'failed';
  model_id: string;
  sha256: string;
  parameters: OrderParameters;
  price: Price | null;
  error: string | null;
  price_job_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface PendingOrderRecord {
  seller_id: string;
  order: PublicOrder;
}

async function read<T>(state: KeyValueStore, key: string): Promise<T | undefined> {
  const raw = await state.get(key);
  return raw ? (JSON.parse(raw) as T) : undefined;
}

export const records = {
  model: {
    key: (id: string) => `facet:model:${id}`,
    async get(state: KeyValueStore, id: string, sellerId: string): Promise<ModelRecord | undefined> {
      const record = await read<ModelRecord>(state, this.key(id));
      return record?.seller_id === sellerId ? record : undefined;
    },
    put: (state: KeyValueStore, record: ModelRecord) => state.set(`facet:model:${record.id}`, JSON.stringify(record), 90 * DAY),
  },
  quote: {
    async get(state: KeyValueStore, id: string, sellerId?: string): Promise<QuoteRecord | undefined> {
      const record = await read<QuoteRecord>(state, `facet:quote:${id}`);
      return record && (sellerId === undefined || record.seller_id === sellerId) ? record : undefined;
    },
    put: (state: KeyValueStore, record: QuoteRecord) => state.set(`facet:quote:${record.id}`, JSON.stringify(record), 30 * DAY),
    byPriceJob: async (state: KeyValueStore, priceJobId: string) => state.get(`facet:pricejob:${priceJobId}`),
    linkPriceJob: (state: KeyValueStore, priceJobId: string, quoteId: string) => state.set(`facet:pricejob:${priceJobId}`, quoteId, 7 * DAY),
  },
  /**
   * Known prices by seller, model content and parameters: a repeated quote
   * answers at once. Scoped per seller: shared across sellers, an instant
   * 200 would tell one seller that another had priced the same file.
   */
  price: {
    key: (sellerId: string, sha256: string, p: OrderParameters) => `facet:price:${sellerId}:${sha256}:${p.material}:${p.size_mm}:${p.finish}`,
    async get(state: KeyValueStore, sellerId: string, sha256: string, p: OrderParameters): Promise<Price | undefined> {
      return read<Price>(state, this.key(sellerId, sha256, p));
    },
    put(state: KeyValueStore, sellerId: string, sha256: string, p: OrderParameters, price: Price) {
      return state.set(this.key(sellerId, sha256, p), JSON.stringify(price), 30 * DAY);
    },
  },
  /** Live price jobs per seller (for the plan's cap); members expire on their own. */
  priceJobs: {
    key: (sellerId: string) => `facet:pricejobs:${sellerId}`,
    /** An order's price job (quotes' members are their quote ids). */
    orderMember: (orderId: string) => `order:${orderId}`,
  },
  pendingOrder: {
    key: (id: string) => `facet:order:${id}`,
    async get(state: KeyValueStore, id: string, sellerId: string): Promise<PublicOrder | undefined> {
      const record = await read<PendingOrderRecord>(state, this.key(id));
      return record?.seller_id === sellerId ? record.order : undefined;
    },
    async getAny(state: KeyValueStore, id: string): Promise<PendingOrderRecord | undefined> {
      return read<PendingOrderRecord>(state, this.key(id));
    },
    put: (state: KeyValueStore, sellerId: string, order: PublicOrder) =>
      state.set(`facet:order:${order.id}`, JSON.stringify({ seller_id: sellerId, order } satisfies PendingOrderRecord), 30 * DAY),
    remove: (state: KeyValueStore, id: string) => state.delete(`facet:order:${id}`),
  },
};

export type { OrderStatus };
