// One consumer group on one quorum queue: its own channel (disposable: when
// it closes, a new one is opened, the queue re-declared and consumption
// resumed), a prefetch, and the retry / dead-letter decisions of
// consumer-policy.ts carried out on the broker:
// - 'ack' → ack;
// - 'retry' / a throw, attempts left → publish (confirmed) to the delay level
//   with `x-facet-attempt` + 1, then ack: the queue keeps flowing meanwhile;
// - no attempts left, `{ dead }`, unparseable JSON → publish (confirmed) to
//   the dead-letter exchange with `x-facet-dead-reason`, then ack.
// If that publish is not confirmed the original is nacked back to the queue
// after a pause; the quorum queue's delivery limit bounds such loops.
//
// Handlers must be idempotent: a process killed between the handler's work
// and the ack leaves the message unacked, and the broker delivers it again
// with `redelivered: true`; one that kills consumers every time is
// dead-lettered by the broker after `x-delivery-limit` deliveries.

import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { HEADER, attemptOf, decode, publishedAtMs, stringHeader } from './codec.ts';
import { decide, runHandler, type Outcome, type ResolvedSpec } from './consumer-policy.ts';
import type { BusMetrics } from './metrics.ts';
import { backoffDelay, type Participant, type RabbitConnection } from './rabbit-connection.ts';
import type { RabbitPublisher } from './rabbit-publisher.ts';
import type { Topology } from './topology.ts';
import type { BusLogger, Handler } from './types.ts';

export interface RabbitConsumerDeps {
  connection: RabbitConnection;
  publisher: RabbitPublisher;
  topology: Topology;
  logger: BusLogger;
  /** Pause before nacking a message whose retry/park publish failed. Default 250 ms. */
  requeueDelayMs?: number;
  /** Log a warning when a handler runs longer (consumer_timeout is 30 min). Default 60 s. */
  slowHandlerMs?: number;
  metrics?: BusMetrics | undefined;
}

/** Broker-set headers not copied onto a republished message (avoids false dead-letter cycle detection). */
const BROKER_HEADER = /^x-(death|delivery-count|first-death-|last-death-)|^x-facet-publish-tag$/;

export class RabbitConsumer implements Participant {
  readonly queueName: string;
  private readonly inflight = new Set<Promise<void>>();
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private model: ChannelModel | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartAttempt = 0;
  private cancelled = false;
  private readonly spec: ResolvedSpec;
  private readonly handler: Handler;
  private readonly deps: RabbitConsumerDeps;

  constructor(spec: ResolvedSpec, handler: Handler, deps: RabbitConsumerDeps) {
    this.spec = spec;
    this.handler = handler;
    this.deps = deps;
    this.queueName = deps.topology.queue(spec.queue);
  }

  /** Declares and consumes now if connected (throwing on failure), else when the connection comes up. */
  async start(): Promise<void> {
    const model = this.deps.connection.current;
    this.deps.connection.register(this, false);
    if (!model) {
      this.deps.logger.info({ queue: this.queueName }, 'bus consumer waits for the broker');
      return;
    }
    this.model = model;
    try {
      await this.open(model);
    } catch (err) {
      this.deps.connection.unregister(this);
      throw err;
    }
  }

  async attach(model: ChannelModel): Promise<void> {
    this.model = model;
    this.restartAttempt = 0;
    try {
      await this.open(model);
    } catch (err) {
      this.deps.logger.error({ err, queue: this.queueName }, 'bus consumer set-up failed; retrying');
      this.scheduleRestart();
    }
  }

  detach(): void {
    this.model = undefined;
    this.channel = undefined;
    clearTimeout(this.restartTimer);
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    this.deps.connection.unregister(this);
    clearTimeout(this.restartTimer);
    const ch = this.channel;
    if (ch && this.consumerTag) await ch.cancel(this.consumerTag).catch(() => undefined);
    await Promise.allSettled([...this.inflight]);
    this.channel = undefined;
    if (ch) await ch.close().catch(() => undefined);
  }

  private async open(model: ChannelModel): Promise<void> {
    await this.deps.topology.probeConsumer(model, this.spec);
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.deps.logger.warn({ err, queue: this.queueName }, 'bus consumer channel error'));
    ch.on('close', () => {
      if (this.channel !== ch) return;
      this.channel = undefined;
      if (!this.cancelled) this.scheduleRestart();
    });
    try {
      await this.deps.topology.declareConsumer(ch, this.spec);
      await ch.prefetch(this.spec.prefetch);
      const { consumerTag } = await ch.consume(this.queueName, (msg) => this.onMessage(ch, msg), { noAck: false });
      this.channel = ch;
      this.consumerTag = consumerTag;
    } catch (err) {
      await ch.close().catch(() => undefined);
      throw err;
    }
    if (this.cancelled || this.model !== model) await ch.close().catch(() => undefined);
  }

  private scheduleRestart(): void {
    const model = this.model;
    if (!model || this.cancelled) return;
    clearTimeout(this.restartTimer);
    const delay = backoffDelay(this.restartAttempt++, 100, 10_000);
    this.restartTimer = setTimeout(() => {
      if (this.model !== model || this.cancelled || this.deps.connection.current !== model) return;
      this.open(model).then(
        () => (this.restartAttempt = 0),
        (err: unknown) => {
          this.deps.logger.warn({ err, queue: this.queueName }, 'bus consumer reopen failed');
          this.scheduleRestart();
        },
      );
    }, delay);
  }

  private onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (e.g. the queue was deleted): start over.
      this.deps.logger.warn({ queue: this.queueName }, 'bus consumer cancelled by the broker');
      void ch.close().catch(() => undefined);
      return;
    }
    const done = this.process(ch, msg)
      .catch((err: unknown) => this.deps.logger.error({ err, queue: this.queueName }, 'bus consumer failed on a delivery; it stays unacked'))
      .finally(() => this.inflight.delete(done));
    this.inflight.add(done);
  }

  private async process(ch: Channel, msg: ConsumeMessage): Promise<void> {
    const headers = msg.properties.headers as Record<string, unknown> | undefined;
    const attempt = attemptOf(headers);
    const exchange = stringHeader(headers, HEADER.originalExchange) ?? msg.fields.exchange;
    const routingKey = stringHeader(headers, HEADER.originalRoutingKey) ?? msg.fields.routingKey;
    const decoded = decode(msg.content, msg.properties.messageId, msg.properties.type, headers);
    const metrics = this.deps.metrics;
    const queue = this.spec.queue;
    metrics?.delivered(queue, { redelivered: msg.fields.redelivered, attempt, publishedAtMs: publishedAtMs(headers, msg.properties.timestamp) });
    let outcome: Outcome;
    if (!decoded.ok) {
      outcome = { action: 'dead', reason: decoded.reason };
    } else {
      const slow = setTimeout(() => this.deps.logger.warn({ queue: this.queueName, id: decoded.message.id }, 'bus handler is slow; ack before long work'), this.deps.slowHandlerMs ?? 60_000);
      slow.unref();
      const delivery = { message: decoded.message, routingKey, attempt, redelivered: msg.fields.redelivered };
      const { result, reason } = await runHandler(this.handler, delivery).finally(() => clearTimeout(slow));
      outcome = decide(result, reason, attempt, this.spec);
    }
    try {
      if (outcome.action !== 'ack') await this.forward(msg, outcome, { exchange, routingKey, attempt });
      ch.ack(msg);
      metrics?.settled(queue, outcome.action);
    } catch (err) {
      metrics?.settled(queue, 'requeued');
      this.deps.logger.warn({ err, queue: this.queueName, outcome: outcome.action }, 'bus could not settle a message; it goes back to the queue');
      await new Promise((r) => setTimeout(r, this.deps.requeueDelayMs ?? 250));
      try {
        ch.nack(msg, false, true);
      } catch {
        // Channel already gone: the broker requeues it anyway.
      }
    }
  }

  /** Publishes the retry or the dead letter and waits for its confirm. */
  private forward(msg: ConsumeMessage, outcome: Exclude<Outcome, { action: 'ack' }>, origin: { exchange: string; routingKey: string; attempt: number }): Promise<void> {
    const headers: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(msg.properties.headers ?? {})) if (!BROKER_HEADER.test(k)) headers[k] = v;
    headers[HEADER.originalExchange] = origin.exchange;
    headers[HEADER.originalRoutingKey] = origin.routingKey;
    const props = { messageId: msg.properties.messageId, type: msg.properties.type, timestamp: msg.properties.timestamp, persistent: true, headers };
    const { topology, publisher, logger } = this.deps;
    if (outcome.action === 'retry') {
      headers[HEADER.attempt] = outcome.nextAttempt;
      headers[HEADER.lastError] = outcome.reason.slice(0, 1000);
      // Routing key = this queue's name: the delay queue dead-letters it to the default exchange, which routes by queue name.
      return publisher.send(topology.delayTarget(outcome.delayMs) ?? '', this.queueName, msg.content, props);
    }
    headers[HEADER.attempt] = origin.attempt;
    headers[HEADER.deadReason] = outcome.reason.slice(0, 1000);
    headers[HEADER.deadQueue] = this.queueName;
    logger.warn({ queue: this.queueName, id: msg.properties.messageId, reason: outcome.reason }, 'bus parking a message in the dead-letter queue');
    return publisher.send(topology.deadExchange, this.queueName, msg.content, props);
  }
}
