// The one connection manager (amqplib does not reconnect by itself in the
// channel API we use). It connects with exponential backoff and jitter; on
// every new connection it declares the base topology, attaches the core
// participants (the publisher's confirm channel) before reporting
// `connected`, then re-attaches every registered consumer. On `close` or
// `error` it detaches everything, reports `disconnected`, and starts over.
// Channels are owned by the participants and are disposable: a channel error
// closes only that channel, and its owner opens a new one on this connection.
//
// A broker cluster: `url` may name several nodes, comma-separated
// (AMQP_URL=amqp://u:p@r1:5672,amqp://u:p@r2:5672,...). The manager connects
// to one; a failed attempt or a lost connection moves it to the next, in
// turn, with the same backoff, and the participants resume there (the
// topology is declared again: idempotent from any node).

import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import type { Topology } from './topology.ts';
import type { BusLogger, BusState } from './types.ts';

export interface Participant {
  /** Called on each new connection; must not throw (it owns its retries). */
  attach(model: ChannelModel): Promise<void>;
  /** Called when the connection is lost or closed; channels are gone. */
  detach(): void;
  /** Broker resource alarm: publishes would hang until `null`. */
  blocked?(reason: string | null): void;
}

export interface RabbitConnectionOptions {
  url: string;
  topology: Topology;
  logger: BusLogger;
  /** First reconnect delay. Default 100 ms. */
  minDelayMs?: number;
  /** Reconnect delay cap. Default 10 s. */
  maxDelayMs?: number;
  /** TCP connect + handshake timeout. Default 5 s. */
  connectTimeoutMs?: number;
  /** Shown in `rabbitmqctl list_connections client_properties`. */
  connectionName?: string;
  /** amqplib's connect (tests pass a fake). */
  connect?: (url: string, socketOptions: object) => Promise<ChannelModel>;
}

/** `AMQP_URL` as a list: one URL, or several comma-separated (the nodes of a cluster). */
export function parseAmqpUrls(raw: string): string[] {
  const urls = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (urls.length === 0) throw new TypeError('AMQP_URL names no URL');
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`AMQP_URL: "${redactAmqpUrl(url)}" is not a URL`);
    }
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') throw new TypeError(`AMQP_URL: "${redactAmqpUrl(url)}" is not amqp:// or amqps://`);
  }
  return urls;
}

/** host:port of a URL, for logs (never the credentials). */
export function redactAmqpUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '<unparseable url>';
  }
}

/** Exponential backoff with "equal jitter": half fixed, half random. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + random() * (base / 2));
}

export class RabbitConnection {
  private readonly options: Required<RabbitConnectionOptions>;
  private readonly urls: string[];
  /** Index in `urls` of the node tried next (or connected to now). */
  private urlIndex = 0;
  private readonly core: Participant[] = [];
  private readonly participants = new Set<Participant>();
  private readonly listeners = new Set<(state: BusState) => void>();
  private model: ChannelModel | undefined;
  private state: BusState = 'disconnected';
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  private started = false;

  constructor(options: RabbitConnectionOptions) {
    this.options = { minDelayMs: 100, maxDelayMs: 10_000, connectTimeoutMs: 5_000, connectionName: 'facet-bus', connect: amqpConnect, ...options };
    this.urls = parseAmqpUrls(options.url);
  }

  /** The node connected to now (host:port, no credentials), or undefined. */
  get endpoint(): string | undefined {
    return this.state === 'connected' ? redactAmqpUrl(this.urls[this.urlIndex] as string) : undefined;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** The live connection, for participants opening channels. */
  get current(): ChannelModel | undefined {
    return this.state === 'connected' ? this.model : undefined;
  }

  onStateChange(listener: (state: BusState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Core participants are attached, in order, before `connected` is reported. */
  addCore(participant: Participant): void {
    this.core.push(participant);
  }

  /** Attached after every (re)connection, and now if connected and `attachNow`. */
  register(participant: Participant, attachNow = true): void {
    this.participants.add(participant);
    if (attachNow && this.model && this.state === 'connected') void participant.attach(this.model);
  }

  unregister(participant: Participant): void {
    this.participants.delete(participant);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.connectOnce();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    const model = this.model;
    if (model) {
      this.lost(model, undefined);
      await model.close().catch(() => undefined);
    }
  }

  private async connectOnce(): Promise<void> {
    const { connectTimeoutMs, connectionName, logger, topology, connect } = this.options;
    const url = this.urls[this.urlIndex] as string;
    let model: ChannelModel;
    try {
      // noDelay: amqplib leaves Nagle's algorithm on, so a small publish or ack that
      // follows one the broker has not acknowledged waits for its delayed ACK (~40 ms).
      model = await connect(url, { timeout: connectTimeoutMs, noDelay: true, clientProperties: { connection_name: connectionName } });
    } catch (err) {
      this.nextUrl();
      this.scheduleReconnect(err);
      return;
    }
    if (this.closing) {
      await model.close().catch(() => undefined);
      return;
    }
    this.model = model;
    model.on('error', (err: Error) => logger.warn({ err }, 'bus connection error'));
    model.on('close', (err?: Error) => this.lost(model, err));
    model.on('blocked', (reason: string) => this.setBlocked(reason));
    model.on('unblocked', () => this.setBlocked(null));
    try {
      await topology.probeBase(model);
      const ch = await model.createChannel();
      ch.on('error', () => undefined);
      await topology.declareBase(ch);
      await ch.close();
      for (const p of this.core) await p.attach(model);
    } catch (err) {
      logger.error({ err }, 'bus set-up failed; reconnecting');
      this.lost(model, err as Error);
      await model.close().catch(() => undefined);
      return;
    }
    if (this.model !== model) return; // lost while setting up
    this.attempt = 0;
    logger.info({ prefix: topology.prefix, node: redactAmqpUrl(url) }, 'bus connected to RabbitMQ');
    this.setState('connected');
    for (const p of this.participants) void p.attach(model);
  }

  private lost(model: ChannelModel, err: Error | undefined): void {
    if (this.model !== model) return;
    this.model = undefined;
    for (const p of [...this.core, ...this.participants]) p.detach();
    if (this.state === 'connected' && !this.closing) this.options.logger.warn({ err, node: redactAmqpUrl(this.urls[this.urlIndex] as string) }, 'bus connection lost');
    this.setState('disconnected');
    // The node is gone or going: the next attempt goes to the next one.
    this.nextUrl();
    if (!this.closing) this.scheduleReconnect(err);
  }

  private nextUrl(): void {
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
  }

  private scheduleReconnect(err: unknown): void {
    if (this.closing) return;
    const delay = backoffDelay(this.attempt++, this.options.minDelayMs, this.options.maxDelayMs);
    const log = this.attempt % 10 === 1 ? this.options.logger.warn : this.options.logger.debug;
    log.call(this.options.logger, { err, attempt: this.attempt, delay, next: redactAmqpUrl(this.urls[this.urlIndex] as string) }, 'bus not connected; retrying');
    this.timer = setTimeout(() => void this.connectOnce(), delay);
  }

  private setBlocked(reason: string | null): void {
    this.options.logger.warn({ reason }, reason === null ? 'bus unblocked' : 'bus blocked by broker');
    for (const p of [...this.core, ...this.participants]) p.blocked?.(reason);
  }

  private setState(state: BusState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.listeners) {
      try {
        listener(state);
      } catch (err) {
        this.options.logger.error({ err }, 'bus state listener threw');
      }
    }
  }
}
