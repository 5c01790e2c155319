// The RabbitMQ topology, declared by the code that uses it (see TOPOLOGY.md,
// the source for openapi/asyncapi.yaml). `<p>` is the prefix, default
// `facet.v1`: declared arguments are part of a queue's identity (redeclaring
// with others fails with PRECONDITION_FAILED), so any change to a name or an
// argument below ships under a new version, e.g. `facet.v2`, and the old
// queues are drained, not redeclared.
//
//   exchange <p>.commands   topic, durable    commands, routing key = command type
//   exchange <p>.events     topic, durable    events, routing key = event type
//   exchange <p>.dlx        topic, durable    dead letters, routing key = source queue name
//   queue    <p>.dead       quorum, durable   bound to <p>.dlx with `#`: the parking queue
//   queue    <p>.<name>     quorum, durable   one per consumer group, bound to commands/events
//       x-queue-type=quorum, x-dead-letter-exchange=<p>.dlx,
//       x-dead-letter-routing-key=<p>.<name>, x-delivery-limit=<deliveryLimit>,
//       x-dead-letter-strategy=at-least-once, x-overflow=reject-publish
//   exchange <p>.retry.<ms>ms  fanout, durable      one per delay level in use
//   queue    <p>.retry.<ms>ms  classic, durable     bound to the exchange of that name
//       x-queue-type=classic, x-message-ttl=<ms>, x-dead-letter-exchange="" (default)
//   on a broker cluster (`replicatedDelays`), instead:
//   queue    <p>.retry.<ms>ms.quorum  quorum, durable   bound to the same exchange
//       x-queue-type=quorum, x-message-ttl=<ms>, x-dead-letter-exchange="",
//       x-dead-letter-strategy=at-least-once, x-overflow=reject-publish
//   A classic queue lives on one node: with that node down it can be neither
//   declared (404 "home node ... is down") nor published to, so every
//   consumer's set-up would fail until it is back. Quorum queues take a TTL
//   from RabbitMQ 3.10 on.
//
// Delayed retry: a failed message is published (confirmed) to the delay
// exchange of its level with routing key = the consumer queue's full name,
// then the original is acked, so the queue keeps flowing. The delay queue has
// no consumer; each message expires after the queue's TTL and is
// dead-lettered to the default exchange with its routing key unchanged; the
// default exchange routes by queue name, so it lands back on the ORIGINAL
// queue only (not on every queue bound to the topic). One queue per delay
// keeps FIFO expiry exact: TTLs only expire at the head of a queue, so a
// 30 s message must never sit in front of a 1 s one. The delay queue is a
// plain classic queue (no consumer, nothing to replicate-vote on; quorum
// queues only gained TTL in 3.10). Its dead-lettering is at-most-once: a
// broker crash in the instant a retry expires can drop that retry.
//
// Dead letters: the consumer parks a message by publishing it to <p>.dlx with
// `x-facet-dead-reason`, the original exchange and routing key, and acks it.
// The broker itself dead-letters from a consumer queue when the delivery limit
// is exceeded (consumers crashing on it over and over): it adds `x-death`
// with reason `delivery_limit`. That path is at-least-once only because of
// `x-dead-letter-strategy=at-least-once`, which requires
// `x-overflow=reject-publish` (a full queue then nacks publishes instead of
// dropping its head).

import type { Channel } from 'amqplib';
// Quorum queues of a cluster: `x-quorum-initial-group-size` (AMQP_QUORUM_GROUP_SIZE)
// says on how many nodes a new queue is placed; unset, the broker's default
// (every node of the cluster at declaration time). It is part of the queue's
// identity on RabbitMQ 3.x: a queue declared without it (or with another
// size, or on a broker whose config changed) refuses a redeclaration with
// PRECONDITION_FAILED. So before a quorum queue is asserted, a throwaway
// channel tries it with the size; if only that argument is refused, the
// queue exists with its own placement and is then asserted without it (every
// other argument is still checked). Declaring is idempotent from any node.
import type { ExchangeName } from './types.ts';
import type { ResolvedSpec } from './consumer-policy.ts';

export const DEFAULT_PREFIX = 'facet.v1';
/** RabbitMQ 4.x defaults to 20; 3.10 has no default, so it is always explicit. */
export const DEFAULT_DELIVERY_LIMIT = 20;

export interface TopologyOptions {
  prefix?: string;
  deliveryLimit?: number;
  /** `x-quorum-initial-group-size` of new quorum queues; undefined: the broker's default. */
  quorumGroupSize?: number | undefined;
  /** Delay queues as quorum queues (a broker cluster: see above); default classic. */
  replicatedDelays?: boolean | undefined;
}

export const QUORUM_GROUP_SIZE_ARG = 'x-quorum-initial-group-size';

/** What `probeQuorumQueue` needs: a way to open a channel it may lose. */
export interface ChannelOpener {
  createChannel(): Promise<Channel>;
}

type Declarer = Pick<Channel, 'assertExchange' | 'assertQueue' | 'bindQueue'>;

export class Topology {
  readonly prefix: string;
  readonly deliveryLimit: number;
  readonly quorumGroupSize: number | undefined;
  readonly replicatedDelays: boolean;
  readonly deadExchange: string;
  readonly deadQueue: string;
  private readonly delayLevels = new Set<number>();
  private readonly exchanges = new Set<string>();
  private readonly queues = new Set<string>();
  /** Queues that exist with another placement: asserted without the group size. */
  private readonly placedElsewhere = new Set<string>();

  constructor(options: TopologyOptions = {}) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
    if (!/^[A-Za-z0-9_.-]+$/.test(this.prefix)) throw new TypeError(`bus prefix "${this.prefix}" must be [A-Za-z0-9_.-]+`);
    if (!Number.isInteger(this.deliveryLimit) || this.deliveryLimit < 1) throw new TypeError('deliveryLimit must be an integer >= 1');
    this.quorumGroupSize = options.quorumGroupSize;
    this.replicatedDelays = options.replicatedDelays ?? false;
    if (this.quorumGroupSize !== undefined && (!Number.isInteger(this.quorumGroupSize) || this.quorumGroupSize < 1)) throw new TypeError('quorumGroupSize must be an integer >= 1');
    this.deadExchange = `${this.prefix}.dlx`;
    this.deadQueue = `${this.prefix}.dead`;
  }

  exchange(name: ExchangeName): string {
    return `${this.prefix}.${name}`;
  }

  /** `facet.v1.commands` → `commands`; anything else is returned as is. */
  logicalExchange(full: string): string {
    return full.startsWith(`${this.prefix}.`) ? full.slice(this.prefix.length + 1) : full;
  }

  queue(name: string): string {
    return `${this.prefix}.${name}`;
  }

  logicalQueue(full: string): string {
    return this.logicalExchange(full);
  }

  /** Name of the delay exchange and queue for a level; `undefined` for 0 ms (requeue at the tail at once). */
  delayTarget(delayMs: number): string | undefined {
    return delayMs > 0 ? `${this.prefix}.retry.${delayMs}ms` : undefined;
  }

  consumerQueueArguments(fullName: string): Record<string, string | number> {
    return {
      ...this.quorumArguments(fullName),
      'x-dead-letter-exchange': this.deadExchange,
      'x-dead-letter-routing-key': fullName,
      'x-delivery-limit': this.deliveryLimit,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    };
  }

  /** `x-queue-type: quorum`, and the group size unless the queue already lives elsewhere. */
  quorumArguments(fullName: string): Record<string, string | number> {
    const placed = this.quorumGroupSize !== undefined && !this.placedElsewhere.has(fullName);
    return { 'x-queue-type': 'quorum', ...(placed ? { [QUORUM_GROUP_SIZE_ARG]: this.quorumGroupSize as number } : {}) };
  }

  /**
   * With a group size: declares the quorum queue on a channel of its own;
   * if the broker refuses only the group size (the queue exists, placed
   * otherwise), remembers to assert it without. Any other failure is left
   * for the real assertion to report. Without a group size: nothing.
   */
  async probeQuorumQueue(opener: ChannelOpener, fullName: string): Promise<void> {
    if (this.quorumGroupSize === undefined || this.placedElsewhere.has(fullName)) return;
    const delay = /\.retry\.(\d+)ms\.quorum$/.exec(fullName);
    const args = fullName === this.deadQueue ? this.quorumArguments(fullName) : delay ? this.delayQueueArguments(Number(delay[1])) : this.consumerQueueArguments(fullName);
    const ch = await opener.createChannel();
    ch.on('error', () => undefined);
    try {
      await ch.assertQueue(fullName, { durable: true, exclusive: false, autoDelete: false, arguments: args });
    } catch (err) {
      if (err instanceof Error && err.message.includes('PRECONDITION_FAILED') && err.message.includes(QUORUM_GROUP_SIZE_ARG)) this.placedElsewhere.add(fullName);
      return;
    }
    await ch.close().catch(() => undefined);
  }

  /** The queue behind a delay level's exchange (classic, or quorum on a cluster). */
  delayQueue(delayMs: number): string | undefined {
    const exchange = this.delayTarget(delayMs);
    return exchange && this.replicatedDelays ? `${exchange}.quorum` : exchange;
  }

  /** probeQuorumQueue for what declareBase declares. */
  async probeBase(opener: ChannelOpener): Promise<void> {
    if (this.quorumGroupSize === undefined) return;
    await this.probeQuorumQueue(opener, this.deadQueue);
    if (this.replicatedDelays) for (const ms of this.delayLevels) await this.probeQuorumQueue(opener, this.delayQueue(ms) as string);
  }

  /** probeQuorumQueue for what declareConsumer declares. */
  async probeConsumer(opener: ChannelOpener, spec: ResolvedSpec): Promise<void> {
    if (this.quorumGroupSize === undefined) return;
    if (this.replicatedDelays) for (const ms of new Set(spec.retryDelaysMs)) if (ms > 0) await this.probeQuorumQueue(opener, this.delayQueue(ms) as string);
    await this.probeQuorumQueue(opener, this.queue(spec.queue));
  }

  delayQueueArguments(delayMs: number): Record<string, string | number> {
    if (!this.replicatedDelays) return { 'x-queue-type': 'classic', 'x-message-ttl': delayMs, 'x-dead-letter-exchange': '' };
    const name = this.delayQueue(delayMs) as string;
    return {
      ...this.quorumArguments(name),
      'x-message-ttl': delayMs,
      'x-dead-letter-exchange': '',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    };
  }

  /** The exchanges, the parking queue and every delay level registered so far. */
  async declareBase(ch: Declarer): Promise<void> {
    for (const name of ['commands', 'events'] as const) await this.assertExchange(ch, this.exchange(name), 'topic');
    await this.assertExchange(ch, this.deadExchange, 'topic');
    await this.assertQueue(ch, this.deadQueue, this.quorumArguments(this.deadQueue));
    await ch.bindQueue(this.deadQueue, this.deadExchange, '#');
    for (const ms of this.delayLevels) await this.declareDelayLevel(ch, ms);
  }

  /** A consumer's queue, its bindings and its delay levels (remembered for later re-declarations). */
  async declareConsumer(ch: Declarer, spec: ResolvedSpec): Promise<string> {
    for (const ms of new Set(spec.retryDelaysMs)) {
      if (ms <= 0) continue;
      this.delayLevels.add(ms);
      await this.declareDelayLevel(ch, ms);
    }
    const name = this.queue(spec.queue);
    await this.assertQueue(ch, name, this.consumerQueueArguments(name));
    for (const b of spec.bindings) await ch.bindQueue(name, this.exchange(b.exchange), b.pattern);
    return name;
  }

  /** Everything declared through this object, for clean-up and ops. */
  declared(): { exchanges: string[]; queues: string[] } {
    return { exchanges: [...this.exchanges], queues: [...this.queues] };
  }

  private async declareDelayLevel(ch: Declarer, ms: number): Promise<void> {
    const exchange = this.delayTarget(ms);
    const queue = this.delayQueue(ms);
    if (exchange === undefined || queue === undefined) return;
    await this.assertExchange(ch, exchange, 'fanout');
    await this.assertQueue(ch, queue, this.delayQueueArguments(ms));
    await ch.bindQueue(queue, exchange, '');
  }

  private async assertExchange(ch: Declarer, name: string, type: 'topic' | 'fanout'): Promise<void> {
    await ch.assertExchange(name, type, { durable: true, autoDelete: false });
    this.exchanges.add(name);
  }

  private async assertQueue(ch: Declarer, name: string, args: Record<string, string | number>): Promise<void> {
    await ch.assertQueue(name, { durable: true, exclusive: false, autoDelete: false, arguments: args });
    this.queues.add(name);
  }
}
