// What policies and handlers are given to work with. Built once per config.

import type { Redis } from 'ioredis';
import { createBus, type Bus } from '../platform/bus/index.ts';
import { CacheService } from '../policies/cache/cache-service.ts';
import { MemoryCacheStore } from '../policies/cache/memory-store.ts';
import { RedisCacheStore } from '../policies/cache/redis-store.ts';
import { KeyGuard } from '../policies/key-auth/key-guard.ts';
import { createSheddingService, type SheddingService } from '../policies/load-shed/shedding-service.ts';
import { QuotaService } from '../policies/quota/quota-service.ts';
import type { GatewayConfig } from '../platform/pipeline/config.ts';
import { ConsumerDirectory } from '../platform/pipeline/consumers.ts';
import { createMetrics, type GatewayMetrics } from '../platform/metrics/registry.ts';
import type { ContractRegistry } from './openapi/specs.ts';
import { processWebhookStore, RedisWebhookStore, type WebhookStore } from '../platform/webhooks/store.ts';
import { urlPolicyFromEnv, type UrlPolicy } from '../platform/webhooks/url-guard.ts';
import { MemoryFeedLog } from './notify/feed-log.ts';
import { OrderFeed } from './notify/order-feed.ts';
import { RedisFeedLog } from './notify/redis-feed-log.ts';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '../platform/state/kv.ts';
import { UpstreamRegistry } from '../platform/upstream/client.ts';

export interface GatewayServices {
  config: GatewayConfig;
  contracts: ContractRegistry;
  upstreams: UpstreamRegistry;
  consumers: ConsumerDirectory;
  metrics: GatewayMetrics;
  /** Shared state store; undefined in the embedded default. */
  redis: Redis | undefined;
  quota: QuotaService;
  keyGuard: KeyGuard;
  /** Load shedding: adaptive concurrency per upstream, event-loop guard. */
  shedding: SheddingService;
  /** Read cache: Redis when configured, else an in-process LRU. */
  cache: CacheService;
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
}

export interface ServiceDependencies {
  redis?: Redis | undefined;
  /**
   * Redis for the write path's records, with a longer command timeout than
   * `redis`: a quota or cache call that is slow has a fallback (insurance
   * limiter, upstream), an idempotency record does not — timing it out
   * early turns a busy moment into 503s. Default: `redis`.
   */
  stateRedis?: Redis | undefined;
  bus?: Bus | undefined;
  metrics?: GatewayMetrics;
  /** Default: from NODE_ENV and WEBHOOKS_ALLOW_LOOPBACK (refused together: a start-up error). */
  webhookPolicy?: UrlPolicy;
}

export function createServices(config: GatewayConfig, contracts: ContractRegistry, deps: ServiceDependencies = {}): GatewayServices {
  const metrics = deps.metrics ?? createMetrics();
  const stream = config.notifications.stream;
  const feedLog = deps.redis ? new RedisFeedLog(deps.redis, { bufferSize: stream.bufferSize }) : new MemoryFeedLog(stream.bufferSize);
  return {
    config,
    contracts,
    upstreams: new UpstreamRegistry(config.serviceEndpoints, metrics),
    consumers: new ConsumerDirectory(config.consumers),
    metrics,
    redis: deps.redis,
    quota: new QuotaService(config.quota, deps.redis),
    keyGuard: new KeyGuard(config.quota, deps.redis),
    shedding: createSheddingService(config),
    state: (deps.stateRedis ?? deps.redis) ? new RedisKeyValueStore((deps.stateRedis ?? deps.redis)!) : new MemoryKeyValueStore(),
    bus: deps.bus ?? createBus(),
    webhooks: (deps.stateRedis ?? deps.redis) ? new RedisWebhookStore((deps.stateRedis ?? deps.redis)!) : processWebhookStore(),
    webhookPolicy: deps.webhookPolicy ?? urlPolicyFromEnv(process.env),
    feed: new OrderFeed(feedLog, {
      heartbeatMs: stream.heartbeatMs,
      maxBufferedBytes: stream.maxBufferedBytes,
      replayLimit: stream.bufferSize,
      maxStreamsPerOwner: stream.maxStreamsPerOperator,
      maxStreams: stream.maxStreams,
    }),
    cache: new CacheService(deps.redis ? new RedisCacheStore(deps.redis) : new MemoryCacheStore(), { generationMaxAgeMs: 2000, lockTtlMs: 5000 }, metrics.registry),
  };
}

export async function closeServices(services: GatewayServices): Promise<void> {
  services.shedding.close();
  await services.feed.close();
  await services.cache.close();
  await services.upstreams.close();
}
