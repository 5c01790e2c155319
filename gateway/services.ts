// What the gateway's own parts (operation handlers, health, the event
// consumer, the live feed) work with. The shared part (state, bus, feed,
// webhooks, keys) is built once per process; upstream pools and consumers
// once per config (a reload builds them again). Each policy builds its own
// service from the PolicyHost (policy-services.ts).

import type { RedisClient } from '../platform/redis.ts';
import { createBus, type Bus } from '../platform/bus/index.ts';
import { createMetrics, type GatewayMetrics } from '../platform/metrics/registry.ts';
import type { GatewayConfig } from '../platform/pipeline/config.ts';
import { ConsumerDirectory } from '../platform/pipeline/consumers.ts';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '../platform/state/kv.ts';
import { UpstreamRegistry } from '../platform/upstream/client.ts';
import { processWebhookStore, RedisWebhookStore, type WebhookStore } from '../platform/webhooks/store.ts';
import { urlPolicyFromEnv, type UrlPolicy } from '../platform/webhooks/url-guard.ts';
import { MemoryFeedLog } from './notify/feed-log.ts';
import { OrderFeed } from './notify/order-feed.ts';
import { RedisFeedLog } from './notify/redis-feed-log.ts';
import type { SpecRegistry } from './openapi/specs.ts';
import { OrderChangeHub } from './order-changes.ts';
import { SellerKeyStore } from '../platform/keys/seller-keys.ts';

export interface GatewayServices {
  config: GatewayConfig;
  specs: SpecRegistry;
  upstreams: UpstreamRegistry;
  consumers: ConsumerDirectory;
  metrics: GatewayMetrics;
  /** Shared state store; undefined in the embedded default. */
  redis: RedisClient | undefined;
  /** Write-path records (models, quotes, pending orders, idempotency keys). */
  state: KeyValueStore;
  /** Commands out, events in: RabbitMQ when configured, else in process. */
  bus: Bus;
  /** The operators' live feed (SSE): a Redis stream shared by replicas, else in process. */
  feed: OrderFeed;
  /** Sellers' webhook subscriptions and deliveries (shared with the adapters). */
  webhooks: WebhookStore;
  /** SSRF rules for webhook URLs. */
  webhookPolicy: UrlPolicy;
  /** Order changes this gateway saw: policies keeping derived state (the cache) listen. */
  orderChanges: OrderChangeHub;
  /** Sellers' API-made keys and config keys' rotations and revocations (shared by every replica). */
  keys: SellerKeyStore;
}

export interface ServiceDependencies {
  redis?: RedisClient | undefined;
  /**
   * Redis for the write path's records, with a longer command timeout than
   * `redis`: a quota or cache call that is slow has a fallback (insurance
   * limiter, upstream), an idempotency record does not — timing it out
   * early turns a busy moment into 503s. Default: `redis`.
   */
  stateRedis?: RedisClient | undefined;
  bus?: Bus | undefined;
  metrics?: GatewayMetrics;
  /** Default: from NODE_ENV and WEBHOOKS_ALLOW_LOOPBACK (refused together: a start-up error). */
  webhookPolicy?: UrlPolicy;
}

/** What a reload keeps: everything but the config, its specs, upstream pools and consumers. */
export type SharedServices = Omit<GatewayServices, 'config' | 'specs' | 'upstreams' | 'consumers'>;

/** The services that outlive a config (state, bus, feed, webhooks); the feed's settings are the first config's. */
export function createSharedServices(config: GatewayConfig, deps: ServiceDependencies = {}): SharedServices {
  const metrics = deps.metrics ?? createMetrics();
  const stream = config.notifications.stream;
  const feedLog = deps.redis ? new RedisFeedLog(deps.redis, { bufferSize: stream.bufferSize }) : new MemoryFeedLog(stream.bufferSize);
  const stateRedis = deps.stateRedis ?? deps.redis;
  return {
    metrics,
    redis: deps.redis,
    state: stateRedis ? new RedisKeyValueStore(stateRedis) : new MemoryKeyValueStore(),
    bus: deps.bus ?? createBus(),
    webhooks: stateRedis ? new RedisWebhookStore(stateRedis) : processWebhookStore(),
    webhookPolicy: deps.webhookPolicy ?? urlPolicyFromEnv(process.env),
    feed: new OrderFeed(feedLog, {
      heartbeatMs: stream.heartbeatMs,
      maxBufferedBytes: stream.maxBufferedBytes,
      replayLimit: stream.bufferSize,
      maxStreamsPerOwner: stream.maxStreamsPerOperator,
      maxStreams: stream.maxStreams,
    }),
    orderChanges: new OrderChangeHub(),
    // key-auth reads with the fast-failing client first (the request path), the rest waits longer.
    keys: new SellerKeyStore(deps.redis, stateRedis),
  };
}

/** One config's services on the shared ones: its upstream pools and its consumers. */
export function servicesFor(config: GatewayConfig, specs: SpecRegistry, shared: SharedServices): GatewayServices {
  return { ...shared, config, specs, upstreams: new UpstreamRegistry(config.serviceEndpoints, shared.metrics), consumers: new ConsumerDirectory(config.consumers) };
}

/** What a retired config's services hold of their own: the upstream pools (they finish what they carry first). */
export async function closeConfigServices(services: GatewayServices): Promise<void> {
  await services.upstreams.close();
}
