// Publishes on a confirm channel and resolves only on the broker's ack.
//
// - mandatory: an unroutable message is returned (basic.return) AND acked; the
//   return always arrives before its ack, so each publish carries a unique
//   `x-facet-publish-tag` header, the return marks the pending publish, and
//   the ack then rejects it with BusUnroutableError.
// - nack (e.g. a full queue with x-overflow=reject-publish) → BusUnavailableError,
//   and the channel is renewed (see renewAfterNack): a nack can be the
//   channel's own stale view of a quorum queue, not the queue's state.
// - `publish()` returning false means the socket buffer is full: later
//   publishes wait for `drain` (a buffered message is not safe; only a
//   confirm counts).
// - every publish has a confirm timeout (default 5 s) → BusTimeoutError, since
//   confirm callbacks of a dying channel can be lost; the message may still
//   arrive, so callers retry with the same message id.
// - no channel (disconnected, channel closed, broker blocked) → reject at once.
// - a channel error closes only the channel: pending publishes fail, the base
//   topology is re-declared (the error may have been a deleted exchange) and
//   a new confirm channel is opened on the same connection.

import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { BusTimeoutError, BusUnavailableError, BusUnroutableError } from './errors.ts';
import { HEADER } from './codec.ts';
import type { BusMetrics, PublishOutcome } from './metrics.ts';
import { backoffDelay, type Participant } from './rabbit-connection.ts';
import type { Topology } from './topology.ts';
import type { BusLogger } from './types.ts';

export type ConfirmChannelLike = Pick<ConfirmChannel, 'publish' | 'on' | 'once' | 'removeListener' | 'close'>;
/** What the publisher opens its channels on (an amqplib connection). */
export type ChannelModelLike = Pick<ChannelModel, 'createChannel' | 'createConfirmChannel'>;

export interface OutgoingProperties {
  messageId?: string;
  type?: string;
  /** Epoch seconds (AMQP timestamp); default now. */
  timestamp?: number;
  persistent: boolean;
  headers: Record<string, unknown>;
}

export interface RabbitPublisherOptions {
  topology: Topology;
  logger: BusLogger;
  confirmTimeoutMs?: number;
  /** Least time between two channel renewals after nacks. Default 1 s. */
  renewAfterNackMs?: number;
  metrics?: BusMetrics | undefined;
}

interface Pending {
  returned: { exchange: string; routingKey: string; replyText: string } | undefined;
  /** Handed to the channel: from then on, only a confirm or a nack tells what became of it. */
  written: boolean;
  /** Without an outcome: confirmed when no error, failed otherwise. */
  settle(err?: Error, outcome?: PublishOutcome): void;
}

export class RabbitPublisher implements Participant {
  readonly confirmTimeoutMs: number;
  readonly renewAfterNackMs: number;
  private readonly topology: Topology;
  private readonly logger: BusLogger;
  private readonly metrics: BusMetrics | undefined;
  private readonly pending = new Map<string, Pending>();
  private channel: ConfirmChannelLike | undefined;
  private model: ChannelModelLike | undefined;
  private drained: Promise<void> | undefined;
  private blockedReason: string | null = null;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenAttempt = 0;
  private renewing = false;
  private lastRenewalAt = Number.NEGATIVE_INFINITY;

  constructor(options: RabbitPublisherOptions) {
    this.topology = options.topology;
    this.logger = options.logger;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 5_000;
    this.renewAfterNackMs = options.renewAfterNackMs ?? 1_000;
    this.metrics = options.metrics;
  }

  get ready(): boolean {
    return this.channel !== undefined && this.blockedReason === null;
  }

  /** Throws if the confirm channel cannot be opened: the connection set-up then fails and retries. */
  async attach(model: ChannelModelLike): Promise<void> {
    this.model = model;
    this.use(await model.createConfirmChannel());
  }

  detach(): void {
    this.model = undefined;
    // A block is the lost connection's (its node's alarm): the next connection starts unblocked, and says so if not.
    this.blockedReason = null;
    clearTimeout(this.reopenTimer);
    this.drop(new BusUnavailableError('connection to the broker lost'));
  }

  blocked(reason: string | null): void {
    this.blockedReason = reason;
  }

  /** Takes a confirm channel into use (public so tests can drive a fake one). */
  use(ch: ConfirmChannelLike): void {
    this.channel = ch;
    ch.on('return', (msg: Message) => this.onReturn(msg));
    ch.on('error', (err: Error) => this.logger.warn({ err }, 'bus confirm channel error'));
    ch.on('close', () => {
      if (this.channel !== ch) return;
      this.drop(new BusUnavailableError('confirm channel closed'));
      this.scheduleReopen();
    });
  }

  send(exchange: string, routingKey: string, content: Buffer, props: OutgoingProperties): Promise<void> {
    const exchangeLabel = this.topology.logicalExchange(exchange) || 'default';
    if (this.blockedReason !== null || !this.channel) this.metrics?.publish(exchangeLabel, 'failed');
    if (this.blockedReason !== null) return Promise.reject(new BusUnavailableError(`broker blocked publishing: ${this.blockedReason}`));
    if (!this.channel) return Promise.reject(new BusUnavailableError('not connected to the broker'));
    const started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const tag = randomUUID();
      const timer = setTimeout(() => entry.settle(new BusTimeoutError(this.confirmTimeoutMs)), this.confirmTimeoutMs);
      const entry: Pending = {
        returned: undefined,
        written: false,
        settle: (err, outcome = err ? 'failed' : 'confirmed') => {
          if (!this.pending.delete(tag)) return;
          clearTimeout(timer);
          this.metrics?.publish(exchangeLabel, outcome, (performance.now() - started) / 1000);
          if (err) reject(err);
          else resolve();
        },
      };
      this.pending.set(tag, entry);
      const write = (): void => {
        if (!this.pending.has(tag)) return;
        const ch = this.channel;
        if (!ch) return entry.settle(new BusUnavailableError('not connected to the broker'));
        const options = {
          mandatory: true,
          persistent: props.persistent,
          contentType: 'application/json',
          appId: 'facet',
          messageId: props.messageId,
          type: props.type,
          timestamp: props.timestamp ?? Math.floor(Date.now() / 1000),
          headers: { [HEADER.publishedAt]: Date.now(), ...props.headers, [HEADER.publishTag]: tag },
        };
        try {
          const ok = ch.publish(exchange, routingKey, content, options, (err: unknown) => this.onConfirm(tag, err, ch));
          entry.written = true;
          if (!ok) this.waitForDrain(ch);
        } catch (err) {
          entry.settle(new BusUnavailableError('confirm channel unusable', { cause: err }));
        }
      };
      if (this.drained) void this.drained.then(write);
      else write();
    });
  }

  /** Pending confirms, for metrics and tests. */
  get inFlight(): number {
    return this.pending.size;
  }

  private onConfirm(tag: string, err: unknown, ch: ConfirmChannelLike): void {
    if (err) this.renewAfterNack(ch);
    const entry = this.pending.get(tag);
    if (!entry) return;
    if (err) entry.settle(new BusUnavailableError(`broker did not accept the message: ${(err as Error).message ?? err}`, { cause: err }), 'nacked');
    else if (entry.returned) entry.settle(new BusUnroutableError(entry.returned.exchange, entry.returned.routingKey, entry.returned.replyText), 'returned');
    else entry.settle();
  }

  private onReturn(msg: Message): void {
    const tag = msg.properties.headers?.[HEADER.publishTag];
    const entry = typeof tag === 'string' ? this.pending.get(tag) : undefined;
    const fields = msg.fields as { exchange: string; routingKey: string; replyText?: string };
    if (entry) entry.returned = { exchange: fields.exchange, routingKey: fields.routingKey, replyText: fields.replyText ?? 'NO_ROUTE' };
  }

  /**
   * A nack retires the channel it came on. The broker keeps a quorum queue's
   * client state in the channel, built at the channel's first publish to that
   * queue from the queue's record, which names its leader. On RabbitMQ 3.10
   * and 3.11 that first publish asks the named leader's node
   * (`rabbit_fifo_client:enqueue` → `rpc:call(pick_server(...))`); if that
   * node is down, because the channel opened after a node loss but before the
   * election had updated the record, the publish is rejected and the state is
   * left as it was, so every later publish on the channel is nacked until
   * that node is back: minutes, for a node under maintenance. A new channel
   * reads the record again. So: open a fresh confirm channel for new
   * publishes (at most one per `renewAfterNackMs`: a queue that is really
   * full nacks on every channel) and close the old one once its pending
   * confirms have had their time.
   */
  private renewAfterNack(ch: ConfirmChannelLike): void {
    const model = this.model;
    const now = performance.now();
    if (!model || this.channel !== ch || this.renewing || now - this.lastRenewalAt < this.renewAfterNackMs) return;
    this.renewing = true;
    this.lastRenewalAt = now;
    model
      .createConfirmChannel()
      .then(
        (fresh) => {
          if (this.model !== model || this.channel !== ch) return void fresh.close().catch(() => undefined);
          this.use(fresh);
          this.metrics?.confirmChannelRenewals.inc();
          this.logger.warn({}, 'bus confirm channel renewed after the broker nacked a publish');
          setTimeout(() => void ch.close().catch(() => undefined), this.confirmTimeoutMs).unref();
        },
        (err: unknown) => this.logger.warn({ err }, 'bus confirm channel renewal after a nack failed'),
      )
      .finally(() => {
        this.renewing = false;
      });
  }

  private waitForDrain(ch: ConfirmChannelLike): void {
    if (this.drained) return;
    this.drained = new Promise<void>((resolve) => {
      const done = (): void => {
        ch.removeListener('drain', done);
        ch.removeListener('close', done);
        this.drained = undefined;
        resolve();
      };
      ch.once('drain', done);
      ch.once('close', done);
    });
  }

  /** Forgets the channel and fails every publish still waiting for its confirm. */
  private drop(err: Error): void {
    this.channel = undefined;
    this.drained = undefined;
    // A message already written may have reached the broker: its outcome is unknown, not a failure to publish.
    for (const entry of [...this.pending.values()]) entry.settle(entry.written ? new BusTimeoutError(this.confirmTimeoutMs, `${err.message} before the broker confirmed`) : err);
  }

  private scheduleReopen(): void {
    const model = this.model;
    if (!model) return;
    const delay = backoffDelay(this.reopenAttempt++, 50, 5_000);
    this.reopenTimer = setTimeout(() => {
      void (async () => {
        if (this.model !== model) return;
        try {
          const ch = await model.createChannel();
          ch.on('error', () => undefined);
          await this.topology.declareBase(ch);
          await ch.close();
          const confirm = await model.createConfirmChannel();
          if (this.model !== model) return void confirm.close().catch(() => undefined);
          this.use(confirm);
          this.reopenAttempt = 0;
          this.logger.info({}, 'bus confirm channel reopened');
        } catch (err) {
          this.logger.warn({ err }, 'bus confirm channel reopen failed');
          this.scheduleReopen();
        }
      })();
    }, delay);
  }
}
