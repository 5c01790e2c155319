// The RabbitMQ Bus: one connection manager, one confirm publisher, one
// consumer per `consume()` call, all on the versioned topology.

import { encode } from './codec.ts';
import type { BusMetrics } from './metrics.ts';
import { QueueDepthSampler } from './queue-depth.ts';
import { resolveSpec } from './consumer-policy.ts';
import { BusUnavailableError } from './errors.ts';
import { parseAmqpUrls, RabbitConnection } from './rabbit-connection.ts';
import { RabbitConsumer } from './rabbit-consumer.ts';
import { RabbitPublisher } from './rabbit-publisher.ts';
import { Topology } from './topology.ts';
import { tracedHandler, tracedPublish } from './tracing.ts';
import type { Bus, BusLogger, BusMessage, BusState, ConsumerSpec, ExchangeName, Handler, PublishOptions, Subscription } from './types.ts';

export interface RabbitBusOptions {
  url: string;
  logger: BusLogger;
  /** Name prefix incl. version, default `facet.v1`. */
  prefix?: string;
  /** `x-delivery-limit` of consumer queues, default 20 (part of the queue identity). */
  deliveryLimit?: number;
  /** `x-quorum-initial-group-size` of new quorum queues (AMQP_QUORUM_GROUP_SIZE); default: the broker's. */
  quorumGroupSize?: number | undefined;
  /** Quorum delay queues; default: when `url` names several nodes or quorumGroupSize is set. */
  replicatedDelays?: boolean | undefined;
  /** Default 5 s. */
  confirmTimeoutMs?: number;
  /** Reconnect backoff, default 100 ms doubling up to 10 s, with jitter. */
  reconnectMinDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** See RabbitConsumerDeps. */
  requeueDelayMs?: number;
  slowHandlerMs?: number;
  /** Publish, consume and queue-depth metrics (metrics.ts); none without it. */
  metrics?: BusMetrics | undefined;
}

export class RabbitBus implements Bus {
  readonly kind = 'rabbitmq';
  readonly topology: Topology;
  private readonly connection: RabbitConnection;
  private readonly publisher: RabbitPublisher;
  private readonly consumers = new Set<RabbitConsumer>();
  private readonly options: RabbitBusOptions;
  private readonly stopWatchingQueues: (() => void) | undefined;
  private closed = false;

  constructor(options: RabbitBusOptions) {
    this.options = options;
    this.topology = new Topology({
      prefix: options.prefix,
      deliveryLimit: options.deliveryLimit,
      quorumGroupSize: options.quorumGroupSize,
      // Several nodes named, or a quorum placement asked for: a cluster, where a classic delay queue would be a single point of failure.
      replicatedDelays: options.replicatedDelays ?? (parseAmqpUrls(options.url).length > 1 || options.quorumGroupSize !== undefined),
    });
    this.publisher = new RabbitPublisher({ topology: this.topology, logger: options.logger, confirmTimeoutMs: options.confirmTimeoutMs, metrics: options.metrics });
    this.connection = new RabbitConnection({
      url: options.url,
      topology: this.topology,
      logger: options.logger,
      ...(options.reconnectMinDelayMs !== undefined && { minDelayMs: options.reconnectMinDelayMs }),
      ...(options.reconnectMaxDelayMs !== undefined && { maxDelayMs: options.reconnectMaxDelayMs }),
      ...(options.connectTimeoutMs !== undefined && { connectTimeoutMs: options.connectTimeoutMs }),
    });
    this.connection.addCore(this.publisher);
    this.connection.start();
    // The queues this process consumes, and the parking queue.
    const sampler = new QueueDepthSampler(this.topology, () => this.connection.current, () => [...this.consumers].map((c) => c.queueName).concat(this.topology.deadQueue));
    this.stopWatchingQueues = options.metrics?.watchQueues(sampler);
  }

  /** The broker node connected to now (host:port), or undefined. */
  get endpoint(): string | undefined {
    return this.connection.endpoint;
  }

  get connected(): boolean {
    return !this.closed && this.connection.connected && this.publisher.ready;
  }

  onStateChange(listener: (state: BusState) => void): () => void {
    return this.connection.onStateChange(listener);
  }

  publish(exchange: ExchangeName, routingKey: string, message: BusMessage, options?: PublishOptions): Promise<void> {
    if (this.closed) return Promise.reject(new BusUnavailableError('bus closed'));
    if (exchange !== 'commands' && exchange !== 'events') return Promise.reject(new TypeError(`unknown exchange "${String(exchange)}"`));
    return tracedPublish({ system: 'rabbitmq', exchange: this.topology.exchange(exchange) }, routingKey, message, options, (traced, tracedOptions) => {
      let encoded;
      try {
        encoded = encode(traced, tracedOptions);
      } catch (err) {
        return Promise.reject(err);
      }
      const { content, messageId, type, persistent, headers } = encoded;
      return this.publisher.send(this.topology.exchange(exchange), routingKey, content, { messageId, type, persistent, headers });
    });
  }

  async consume(spec: ConsumerSpec, handler: Handler): Promise<Subscription> {
    if (this.closed) throw new BusUnavailableError('bus closed');
    const resolved = resolveSpec(spec);
    const consumer = new RabbitConsumer(resolved, tracedHandler({ system: 'rabbitmq' }, resolved.queue, handler), {
      connection: this.connection,
      publisher: this.publisher,
      topology: this.topology,
      logger: this.options.logger,
      ...(this.options.requeueDelayMs !== undefined && { requeueDelayMs: this.options.requeueDelayMs }),
      ...(this.options.slowHandlerMs !== undefined && { slowHandlerMs: this.options.slowHandlerMs }),
      metrics: this.options.metrics,
    });
    await consumer.start();
    this.consumers.add(consumer);
    return {
      cancel: async () => {
        this.consumers.delete(consumer);
        await consumer.cancel();
      },
    };
  }

  /** Cancels consumers (waiting for handlers in flight), then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatchingQueues?.();
    await Promise.allSettled([...this.consumers].map((c) => c.cancel()));
    this.consumers.clear();
    await this.connection.close();
  }
}
