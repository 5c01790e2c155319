// The in-process Bus, the embedded default when no AMQP_URL is set. Same
// semantics as the RabbitMQ one: topic bindings (`*`, `#`), a publish that no
// queue is bound for rejects (like `mandatory`), competing consumers share a
// queue round robin within their prefetch, retries wait their delay level
// (unref'd timers) and count attempts, poison messages are parked with a
// reason in `deadLetters()`. A publish resolves once the message is queued.
// Nothing survives the process: it is for development, tests and demos.

import { decode, encode } from './codec.ts';
import { decide, resolveSpec, runHandler, type ResolvedSpec } from './consumer-policy.ts';
import { BusUnavailableError, BusUnroutableError, isBusUnroutable } from './errors.ts';
import type { BusMetrics } from './metrics.ts';
import { topicMatches } from './topic.ts';
import { tracedHandler, tracedPublish } from './tracing.ts';
import type { Binding, Bus, BusMessage, BusState, ConsumerSpec, DeadLetter, ExchangeName, Handler, PublishOptions, Subscription } from './types.ts';

interface Entry {
  raw: string;
  id: string | undefined;
  type: string | undefined;
  headers: Record<string, string>;
  exchange: ExchangeName;
  routingKey: string;
  attempt: number;
  /** For consumer lag (metrics). */
  publishedAtMs: number;
}

interface MemoryConsumer {
  spec: ResolvedSpec;
  handler: Handler;
  inflight: Set<Promise<void>>;
}

interface MemoryQueue {
  name: string;
  bindings: Binding[];
  consumers: MemoryConsumer[];
  next: number;
  ready: Entry[];
  scheduled: boolean;
}

export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly dead: DeadLetter[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly listeners = new Set<(state: BusState) => void>();
  private readonly metrics: BusMetrics | undefined;
  private readonly stopWatchingQueues: (() => void) | undefined;
  private closed = false;

  /** With metrics: published, handled, dead letters, lag and queue depths as on RabbitMQ (no confirm times: there is no broker). */
  constructor(options: { metrics?: BusMetrics | undefined } = {}) {
    this.metrics = options.metrics;
    this.stopWatchingQueues = options.metrics?.watchQueues({
      queues: () => [...this.queues.keys(), 'dead'],
      sample: async () => new Map([...[...this.queues.values()].map((q) => [q.name, q.ready.length] as const), ['dead', this.dead.length]]),
    });
  }

  get connected(): boolean {
    return !this.closed;
  }

  onStateChange(listener: (state: BusState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publish(exchange: ExchangeName, routingKey: string, message: BusMessage, options?: PublishOptions): Promise<void> {
    const label = exchange === 'commands' || exchange === 'events' ? exchange : 'unknown'; // bounded, whatever a caller passes
    return tracedPublish({ system: 'facet-memory', exchange }, routingKey, message, options, async (traced, tracedOptions) => {
      const { content, messageId, type, headers } = encode(traced, tracedOptions);
      try {
        this.enqueue(exchange, routingKey, { raw: content.toString('utf8'), id: messageId, type, headers });
        this.metrics?.publish(label, 'confirmed');
      } catch (err) {
        this.metrics?.publish(label, isBusUnroutable(err) ? 'returned' : 'failed');
        throw err;
      }
    });
  }

  /** Queues a payload as is (not JSON-encoded), like a foreign publisher would: for tests and tools. */
  async injectRaw(exchange: ExchangeName, routingKey: string, raw: string, props: { id?: string; type?: string; headers?: Record<string, string> } = {}): Promise<void> {
    this.enqueue(exchange, routingKey, { raw, id: props.id, type: props.type, headers: { ...props.headers } });
  }

  /** Messages parked so far, oldest first. */
  deadLetters(): DeadLetter[] {
    return this.dead.map((d) => ({ ...d, headers: { ...d.headers } }));
  }

  async consume(spec: ConsumerSpec, handler: Handler): Promise<Subscription> {
    if (this.closed) throw new BusUnavailableError('bus closed');
    const resolved = resolveSpec(spec);
    let queue = this.queues.get(resolved.queue);
    if (!queue) {
      queue = { name: resolved.queue, bindings: [], consumers: [], next: 0, ready: [], scheduled: false };
      this.queues.set(resolved.queue, queue);
    }
    for (const b of resolved.bindings) {
      if (!queue.bindings.some((x) => x.exchange === b.exchange && x.pattern === b.pattern)) queue.bindings.push(b);
    }
    const consumer: MemoryConsumer = { spec: resolved, handler: tracedHandler({ system: 'facet-memory' }, resolved.queue, handler), inflight: new Set() };
    queue.consumers.push(consumer);
    this.schedule(queue);
    const q = queue;
    return {
      cancel: async () => {
        q.consumers = q.consumers.filter((c) => c !== consumer);
        await Promise.allSettled([...consumer.inflight]);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatchingQueues?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const inflight = [...this.queues.values()].flatMap((q) => q.consumers.flatMap((c) => [...c.inflight]));
    for (const q of this.queues.values()) q.consumers = [];
    await Promise.allSettled(inflight);
    for (const l of this.listeners) l('disconnected');
  }

  private enqueue(exchange: ExchangeName, routingKey: string, msg: Omit<Entry, 'exchange' | 'routingKey' | 'attempt' | 'publishedAtMs'>): void {
    if (this.closed) throw new BusUnavailableError('bus closed');
    if (exchange !== 'commands' && exchange !== 'events') throw new TypeError(`unknown exchange "${String(exchange)}"`);
    const targets = [...this.queues.values()].filter((q) => q.bindings.some((b) => b.exchange === exchange && topicMatches(b.pattern, routingKey)));
    if (targets.length === 0) throw new BusUnroutableError(exchange, routingKey);
    for (const q of targets) {
      q.ready.push({ ...msg, headers: { ...msg.headers }, exchange, routingKey, attempt: 1, publishedAtMs: Date.now() });
      this.schedule(q);
    }
  }

  private schedule(queue: MemoryQueue): void {
    if (queue.scheduled || this.closed) return;
    queue.scheduled = true;
    setImmediate(() => {
      queue.scheduled = false;
      this.dispatch(queue);
    });
  }

  /** Hands ready messages to consumers with spare prefetch, round robin. */
  private dispatch(queue: MemoryQueue): void {
    while (queue.ready.length > 0 && !this.closed) {
      const n = queue.consumers.length;
      let chosen: MemoryConsumer | undefined;
      for (let i = 0; i < n && !chosen; i++) {
        const c = queue.consumers[(queue.next + i) % n];
        if (c && c.inflight.size < c.spec.prefetch) {
          chosen = c;
          queue.next = (queue.next + i + 1) % n;
        }
      }
      if (!chosen) return;
      const entry = queue.ready.shift() as Entry;
      const consumer = chosen;
      const done = this.process(queue, consumer, entry).finally(() => {
        consumer.inflight.delete(done);
        this.schedule(queue);
      });
      consumer.inflight.add(done);
    }
  }

  private async process(queue: MemoryQueue, consumer: MemoryConsumer, entry: Entry): Promise<void> {
    const decoded = decode(Buffer.from(entry.raw, 'utf8'), entry.id, entry.type, entry.headers);
    this.metrics?.delivered(queue.name, { redelivered: false, attempt: entry.attempt, publishedAtMs: entry.publishedAtMs });
    if (!decoded.ok) return this.park(queue, entry, decoded.reason);
    const delivery = { message: decoded.message, routingKey: entry.routingKey, attempt: entry.attempt, redelivered: false };
    const { result, reason } = await runHandler(consumer.handler, delivery);
    const outcome = decide(result, reason, entry.attempt, consumer.spec);
    if (outcome.action !== 'dead') this.metrics?.settled(queue.name, outcome.action);
    if (outcome.action === 'dead') this.park(queue, entry, outcome.reason);
    else if (outcome.action === 'retry') {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        queue.ready.push({ ...entry, attempt: outcome.nextAttempt });
        this.schedule(queue);
      }, outcome.delayMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  private park(queue: MemoryQueue, entry: Entry, reason: string): void {
    const { raw, id, type, headers, exchange, routingKey, attempt } = entry;
    this.dead.push({ queue: queue.name, reason, exchange, routingKey, attempt, id, type, raw, headers: { ...headers } });
    this.metrics?.settled(queue.name, 'dead');
  }
}
