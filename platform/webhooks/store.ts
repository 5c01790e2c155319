// Webhook subscriptions and their deliveries, shared by the gateway (the
// seller's API) and the adapters (fan-out and delivery): RedisClient, or one
// in-process store per process for the embedded default. A subscription
// belongs to one seller; every read by the API checks it.
//
//   facet:{wh}:sub:<id>          subscription JSON (secrets included: they sign)
//   facet:{wh}:seller:<seller>   SET of the seller's subscription ids
//   facet:wh:dlv:<id>            delivery JSON: payload, status, attempts
//   facet:wh:log:<sub>           LIST of delivery ids, newest first, capped
//
// Redis Cluster: a subscription and its seller's set change in one MULTI and
// are read with one MGET, so they share the `{wh}` hash tag (one slot: few
// keys, written rarely). Deliveries are many and each is touched alone:
// they spread over the slots, and a log page is read key by key (one
// pipelined round trip per node), not with a cross-slot MGET.

import type { RedisClient } from '../redis.ts';
import { redisScript } from '../state/redis-script.ts';

export interface WebhookSecret {
  secret: string;
  /** ISO time after which it no longer signs; null for the current one. */
  expires_at: string | null;
}

export interface Subscription {
  id: string;
  seller_id: string;
  url: string;
  event_types: string[];
  description: string | null;
  created_at: string;
  secrets: WebhookSecret[];
}

export interface DeliveryAttempt {
  at: string;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface Delivery {
  /** The `webhook-id`: the same on every attempt and replay. */
  id: string;
  subscription_id: string;
  seller_id: string;
  event_type: string;
  /** The exact body sent (and signed) on every attempt. */
  payload: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: DeliveryAttempt[];
  created_at: string;
  updated_at: string;
}

export const LOG_LENGTH = 500;
const DELIVERY_TTL_SEC = 30 * 86_400;
const MAX_ATTEMPTS_KEPT = 50;

export interface WebhookStore {
  /**
   * Adds a new subscription unless its seller already has `max`: checked and
   * added in one step (a Lua script on Redis), so parallel creates never pass
   * the cap. True when added.
   */
  addSubscription(subscription: Subscription, max: number): Promise<boolean>;
  putSubscription(subscription: Subscription): Promise<void>;
  getSubscription(id: string): Promise<Subscription | undefined>;
  listSubscriptions(sellerId: string): Promise<Subscription[]>;
  deleteSubscription(subscription: Subscription): Promise<void>;
  /** Creates the delivery unless one with its id exists; true when created. */
  createDelivery(delivery: Delivery): Promise<boolean>;
  getDelivery(id: string): Promise<Delivery | undefined>;
  putDelivery(delivery: Delivery): Promise<void>;
  /** Newest first. */
  listDeliveries(subscriptionId: string, limit: number): Promise<Delivery[]>;
}

export function withAttempt(delivery: Delivery, attempt: DeliveryAttempt, status: Delivery['status']): Delivery {
  return { ...delivery, status, attempts: [...delivery.attempts, attempt].slice(-MAX_ATTEMPTS_KEPT), updated_at: attempt.at };
}

/** KEYS: the subscription, the seller's set (one {wh} slot); ARGV: its JSON, its id, the cap. */
const ADD_SUBSCRIPTION = `
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
`;
const addSubscription = redisScript(ADD_SUBSCRIPTION);

export class RedisWebhookStore implements WebhookStore {
  private readonly redis: RedisClient;
  constructor(redis: RedisClient) {
    this.redis = redis;
  }

  async addSubscription(s: Subscription, max: number): Promise<boolean> {
    const added = await addSubscription.run(this.redis, [`facet:{wh}:sub:${s.id}`, `facet:{wh}:seller:${s.seller_id}`], [JSON.stringify(s), s.id, String(max)]);
    return added === 1;
  }

  async putSubscription(s: Subscription): Promise<void> {
    await this.redis.multi().set(`facet:{wh}:sub:${s.id}`, JSON.stringify(s)).sadd(`facet:{wh}:seller:${s.seller_id}`, s.id).exec();
  }
  async getSubscription(id: string): Promise<Subscription | undefined> {
    const raw = await this.redis.get(`facet:{wh}:sub:${id}`);
    return raw ? (JSON.parse(raw) as Subscription) : undefined;
  }
  async listSubscriptions(sellerId: string): Promise<Subscription[]> {
    const ids = await this.redis.smembers(`facet:{wh}:seller:${sellerId}`);
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => `facet:{wh}:sub:${id}`));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Subscription).sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }
  async deleteSubscription(s: Subscription): Promise<void> {
    await this.redis.multi().del(`facet:{wh}:sub:${s.id}`).srem(`facet:{wh}:seller:${s.seller_id}`, s.id).exec();
  }
  async createDelivery(d: Delivery): Promise<boolean> {
    const created = await this.redis.set(`facet:wh:dlv:${d.id}`, JSON.stringify(d), 'EX', DELIVERY_TTL_SEC, 'NX');
    if (created !== 'OK') return false;
    await this.redis.multi().lpush(`facet:wh:log:${d.subscription_id}`, d.id).ltrim(`facet:wh:log:${d.subscription_id}`, 0, LOG_LENGTH - 1).exec();
    return true;
  }
  async getDelivery(id: string): Promise<Delivery | undefined> {
    const raw = await this.redis.get(`facet:wh:dlv:${id}`);
    return raw ? (JSON.parse(raw) as Delivery) : undefined;
  }
  async putDelivery(d: Delivery): Promise<void> {
    await this.redis.set(`facet:wh:dlv:${d.id}`, JSON.stringify(d), 'EX', DELIVERY_TTL_SEC);
  }
  async listDeliveries(subscriptionId: string, limit: number): Promise<Delivery[]> {
    const ids = await this.redis.lrange(`facet:wh:log:${subscriptionId}`, 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await Promise.all(ids.map((id) => this.redis.get(`facet:wh:dlv:${id}`)));
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Delivery);
  }
}

export class MemoryWebhookStore implements WebhookStore {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly deliveries = new Map<string, Delivery>();
  private readonly logs = new Map<string, string[]>();

  async addSubscription(s: Subscription, max: number): Promise<boolean> {
    // Counted and added in one synchronous step: nothing can interleave.
    let count = 0;
    for (const existing of this.subscriptions.values()) if (existing.seller_id === s.seller_id) count++;
    if (count >= max) return false;
    this.subscriptions.set(s.id, structuredClone(s));
    return true;
  }

  async putSubscription(s: Subscription): Promise<void> {
    this.subscriptions.set(s.id, structuredClone(s));
  }
  async getSubscription(id: string): Promise<Subscription | undefined> {
    const s = this.subscriptions.get(id);
    return s && structuredClone(s);
  }
  async listSubscriptions(sellerId: string): Promise<Subscription[]> {
    return [...this.subscriptions.values()].filter((s) => s.seller_id === sellerId).map((s) => structuredClone(s));
  }
  async deleteSubscription(s: Subscription): Promise<void> {
    this.subscriptions.delete(s.id);
  }
  async createDelivery(d: Delivery): Promise<boolean> {
    if (this.deliveries.has(d.id)) return false;
    this.deliveries.set(d.id, structuredClone(d));
    const log = this.logs.get(d.subscription_id) ?? [];
    log.unshift(d.id);
    this.logs.set(d.subscription_id, log.slice(0, LOG_LENGTH));
    return true;
  }
  async getDelivery(id: string): Promise<Delivery | undefined> {
    const d = this.deliveries.get(id);
    return d && structuredClone(d);
  }
  async putDelivery(d: Delivery): Promise<void> {
    this.deliveries.set(d.id, structuredClone(d));
  }
  async listDeliveries(subscriptionId: string, limit: number): Promise<Delivery[]> {
    return (this.logs.get(subscriptionId) ?? []).slice(0, limit).flatMap((id) => {
      const d = this.deliveries.get(id);
      return d ? [structuredClone(d)] : [];
    });
  }
}

let processStore: MemoryWebhookStore | undefined;

/** Without RedisClient, the gateway and the in-process adapters of `npm start` share this one. */
export function processWebhookStore(): MemoryWebhookStore {
  processStore ??= new MemoryWebhookStore();
  return processStore;
}
