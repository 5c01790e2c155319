// The bus contract shared by the RabbitMQ implementation and the in-process
// stand-in (the embedded default). Both keep the same semantics; the contract
// suite in test/bus/contract.test.ts runs against each.

export type ExchangeName = 'commands' | 'events';

export interface BusMessage {
  /** Message id: the idempotency key consumers dedupe on. */
  id: string;
  /** Canonical message type, e.g. `order.create` or `order.status_changed`. */
  type: string;
  /** Any JSON-serialisable value. */
  body: unknown;
  /**
   * Application headers, e.g. W3C `traceparent` / `tracestate`.
   * Names starting with `x-facet-` are reserved for the bus and dropped.
   */
  headers?: Record<string, string>;
}

export interface PublishOptions {
  /** Written to disk by the broker (delivery mode 2). Default true. */
  persistent?: boolean;
  /** Merged over `message.headers`. */
  headers?: Record<string, string>;
}

/**
 * What a handler decides about a delivery:
 * - `'ack'`: done, remove it;
 * - `'retry'` (or a thrown error): try again after the next delay level, until
 *   `maxAttempts` is reached, then park it in the dead-letter queue;
 * - `{ dead: reason }`: poison, park it now with that reason;
 * - `{ retryInMs }`: like `'retry'`, after this delay, which must be one of
 *   the consumer's `retryDelaysMs` (only those have delay queues); any other
 *   value falls back to the attempt's level. Lets a handler add jitter.
 * - `{ deferInMs }`: not now, and not a failure: put it back after this delay
 *   (one of `retryDelaysMs`, else the first level) without counting an
 *   attempt. Frees the consumer's slot for other work (per-key fairness).
 */
export type HandlerResult = 'ack' | 'retry' | { dead: string } | { retryInMs: number } | { deferInMs: number };

export interface Delivery {
  message: BusMessage;
  /** The routing key it was first published with (kept across retries). */
  routingKey: string;
  /** 1-based; counts handler attempts and survives delayed retries. */
  attempt: number;
  /**
   * True when the broker delivers it again after a consumer died or its
   * channel closed before acking: the handler may already have run.
   */
  redelivered: boolean;
}

export interface Binding {
  exchange: ExchangeName;
  /** Topic pattern: words separated by `.`, `*` = one word, `#` = zero or more. */
  pattern: string;
}

export interface ConsumerSpec {
  /** Queue name without the topology prefix, e.g. `crm.order-commands`. */
  queue: string;
  bindings: Binding[];
  /** Unacked deliveries in flight for this consumer. Default 10. */
  prefetch?: number;
  /** Handler attempts before the message is parked. Default 5. */
  maxAttempts?: number;
  /** Delay before attempt n+1 is `retryDelaysMs[n-1]` (last one repeats). Default [1000, 5000, 30000]. */
  retryDelaysMs?: number[];
}

/**
 * A handler must be idempotent (dedupe by `message.id` or a business key):
 * a crash between the work and the ack means the broker delivers it again.
 * It must also return promptly: the broker closes a channel that holds a
 * delivery unacked for longer than `consumer_timeout` (30 min by default).
 * Long work (an MES price job) is submitted, the message acked, and the flow
 * resumes on the event that reports the result.
 */
export type Handler = (delivery: Delivery) => Promise<HandlerResult>;

export interface Subscription {
  /** Stops new deliveries, waits for the handlers in flight, then detaches. */
  cancel(): Promise<void>;
}

export type BusState = 'connected' | 'disconnected';

export interface Bus {
  /** `'rabbitmq'` or `'memory'`, for logs and health. */
  readonly kind: 'rabbitmq' | 'memory';
  /**
   * Resolves only once the broker has confirmed the message (or, in memory,
   * once it is queued). Rejects with BusUnavailableError, BusUnroutableError
   * or BusTimeoutError; the message may then still have been delivered, so a
   * retry by the caller must reuse the same `message.id`.
   */
  publish(exchange: ExchangeName, routingKey: string, message: BusMessage, options?: PublishOptions): Promise<void>;
  consume(spec: ConsumerSpec, handler: Handler): Promise<Subscription>;
  readonly connected: boolean;
  /** Returns a function that removes the listener. */
  onStateChange(listener: (state: BusState) => void): () => void;
  close(): Promise<void>;
}

/** A message parked in the dead-letter queue, as ops and tests see it. */
export interface DeadLetter {
  /** The consumer queue it was parked from (without prefix). */
  queue: string;
  reason: string;
  exchange: string;
  routingKey: string;
  attempt: number;
  /** The message id, when the original had one. */
  id: string | undefined;
  type: string | undefined;
  /** The original payload, byte for byte, as text. */
  raw: string;
  headers: Record<string, string>;
}

/** The subset of pino this module logs through. */
export interface BusLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
