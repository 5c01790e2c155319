// A write-path stack for the adapter tests: both simulators in process (MES
// publishing its legacy events on the bus), the adapters, an observer of
// order.status_changed, and a "gateway" that publishes commands. On the
// memory bus + memory store, or on RabbitMQ + Redis (unique prefixes,
// cleaned up on close).

import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { busMetricsFor } from '../../platform/bus/metrics.ts';
import { createBus, waitForConnection, type Bus, type DeadLetter, type MemoryBus, type RabbitBus } from '../../platform/bus/index.ts';
import { ROUTING, type CancelOrderCommand, type OrderStatus, type OrderStatusChangedEvent, type PlaceOrderCommand } from '../../contracts/messages.ts';
import { startAdapters, type Adapters, type AdaptersOptions } from '../../adapters/index.ts';
import { createRedis } from '../../platform/redis.ts';
import { MemoryKeyValueStore, RedisKeyValueStore, type KeyValueStore } from '../../platform/state/kv.ts';
import { type Order } from '../../contracts/orders.ts';
import { generateDataset, type Dataset } from '../../sim/data/seed.ts';
import { startCrmSim, startMesSim, type CrmOrder, type CrmSimHandle, type CrmSimOptions, type MesSimHandle, type MesSimOptions } from '../../sim/index.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { REDIS_URL, clearRedis } from '../helpers/redis.ts';

export { AMQP_URL, REDIS_URL, testLogger };

export type StackKind = 'memory' | 'rabbit';

export const FAST_LATENCY = { baseMs: 1, jitterMs: 2 };

/** 3600 simulated seconds per real second: a 2-30 min price job takes 33-500 ms; each manufacturing stage 100 ms. */
export const FAST_MES: Partial<MesSimOptions> = {
  latency: FAST_LATENCY,
  dashboardLatency: { baseMs: 0, perOrderMs: 0 },
  timeScale: 3600,
  stageSeconds: { MANUFACTURING_STARTED: 360, MANUFACTURING_COMPLETED: 360, PACKAGING: 360 },
  capacity: 1000,
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(15);
  }
}

export function randomTag(): string {
  return randomBytes(4).toString('hex');
}

/** Seed orders with the smallest models (quickest to price). */
export function smallOrders(dataset: Dataset, n: number): Order[] {
  return [...dataset.orders].sort((a, b) => a.model.polygons - b.model.polygons).slice(0, n);
}

/** A new order on a seed order's model, customer and seller. */
export function placeCommand(template: Order, orderId: string, overrides: Partial<PlaceOrderCommand> = {}): PlaceOrderCommand {
  return {
    order_id: orderId,
    seller_id: template.seller_id,
    customer: template.customer,
    shipping: template.shipping,
    model: template.model,
    parameters: template.parameters,
    price: null,
    quote_id: null,
    placed_at: new Date().toISOString(),
    ...overrides,
  };
}

export interface StackOptions {
  kind: StackKind;
  mes?: Partial<MesSimOptions>;
  crm?: Partial<CrmSimOptions>;
  adapters?: Partial<Omit<AdaptersOptions, 'bus' | 'store' | 'crmUrl' | 'mesUrl'>>;
  /** False: the MES simulator does not publish its events (the test plays them). */
  mesEvents?: boolean;
  /** Bus and saga metrics go here (none without it). */
  registry?: Registry;
}

export class Stack {
  readonly kind: StackKind;
  readonly tag = randomTag();
  readonly dataset: Dataset;
  readonly bus: Bus;
  readonly store: KeyValueStore;
  readonly keyPrefix: string;
  crm!: CrmSimHandle;
  mes!: MesSimHandle;
  adapters!: Adapters;
  /** order.status_changed as observed, by order id, in arrival order. */
  readonly statuses = new Map<string, OrderStatusChangedEvent[]>();
  private readonly closers: (() => Promise<unknown>)[] = [];
  private seq = 0;

  private constructor(kind: StackKind, bus: Bus, store: KeyValueStore, keyPrefix: string) {
    this.kind = kind;
    this.bus = bus;
    this.store = store;
    this.keyPrefix = keyPrefix;
    this.dataset = generateDataset(7, 3, 300);
  }

  static async start(options: StackOptions): Promise<Stack> {
    const keyPrefix = `facet:saga:test-${randomTag()}:`;
    let stack: Stack;
    const metrics = options.registry ? busMetricsFor(options.registry) : undefined;
    if (options.kind === 'memory') {
      stack = new Stack('memory', createBus({ metrics }), new MemoryKeyValueStore(), keyPrefix);
    } else {
      const bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), logger: testLogger, metrics });
      await waitForConnection(bus, 10_000);
      const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
      await waitFor(() => redis.status === 'ready', 5_000, 'redis');
      stack = new Stack('rabbit', bus, new RedisKeyValueStore(redis), keyPrefix);
      stack.closers.push(() => clearRedis([keyPrefix]), async () => redis.disconnect());
    }
    await stack.init(options);
    return stack;
  }

  private async init(options: StackOptions): Promise<void> {
    this.mes = await startMesSim({ dataset: this.dataset, ...FAST_MES, ...options.mes, ...(options.mesEvents === false ? {} : { bus: this.bus }) });
    this.crm = await startCrmSim({ dataset: this.dataset, latency: FAST_LATENCY, ...options.crm });
    await this.bus.consume({ queue: 'test.observer', bindings: [{ exchange: 'events', pattern: ROUTING.statusChanged }] }, async ({ message }) => {
      const event = message.body as OrderStatusChangedEvent;
      const list = this.statuses.get(event.order_id) ?? [];
      list.push(event);
      this.statuses.set(event.order_id, list);
      return 'ack';
    });
    this.adapters = await startAdapters({
      bus: this.bus,
      store: this.store,
      crmUrl: this.crm.url,
      mesUrl: this.mes.url,
      logger: testLogger,
      ...(options.registry && { registry: options.registry }),
      ...options.adapters,
      saga: { retryDelaysMs: [100, 300, 600], maxAttempts: 10, keyPrefix: this.keyPrefix, lock: { ttlSec: 3, waitMs: 4_000 }, ...options.adapters?.saga },
    });
  }

  newOrderId(): string {
    return `ord_t${this.tag}_${++this.seq}`;
  }

  async place(command: PlaceOrderCommand, messageId = `place:${command.order_id}`): Promise<void> {
    await this.bus.publish('commands', ROUTING.placeOrder, { id: messageId, type: ROUTING.placeOrder, body: command });
  }

  async cancel(orderId: string, reason = 'customer changed their mind'): Promise<void> {
    const body: CancelOrderCommand = { order_id: orderId, seller_id: this.crmOrder(orderId)?.seller_id ?? 'slr_0001', reason, requested_at: new Date().toISOString() };
    await this.bus.publish('commands', ROUTING.cancelOrder, { id: `cancel:${orderId}`, type: ROUTING.cancelOrder, body });
  }

  crmOrder(id: string): CrmOrder | undefined {
    return this.crm.store.getOrder(id);
  }

  /** Waits until the CRM has the order in one of `statuses`. */
  waitCrmStatus(id: string, statuses: OrderStatus | OrderStatus[], timeoutMs = 10_000): Promise<CrmOrder> {
    const want = new Set(Array.isArray(statuses) ? statuses : [statuses]);
    return waitFor(() => {
      const order = this.crmOrder(id);
      return order && want.has(order.status) ? order : undefined;
    }, timeoutMs, `${id} in ${[...want].join('|')} (now ${this.crmOrder(id)?.status ?? 'absent'})`);
  }

  /** Statuses observed on order.status_changed for an order, duplicates removed (same message id). */
  observed(id: string): OrderStatus[] {
    return [...new Set((this.statuses.get(id) ?? []).map((e) => e.status))];
  }

  async deadLetters(queue: string): Promise<DeadLetter[]> {
    if (this.kind === 'memory') return (this.bus as MemoryBus).deadLetters().filter((d) => d.queue === queue);
    this.sideDoor ??= await RabbitSideDoor.open((this.bus as RabbitBus).topology);
    return this.sideDoor.deadLetters(queue);
  }

  private sideDoor: RabbitSideDoor | undefined;

  async close(): Promise<void> {
    await this.adapters?.close();
    await this.mes?.close();
    await this.crm?.close();
    await this.bus.close();
    if (this.kind === 'rabbit') {
      this.sideDoor ??= await RabbitSideDoor.open((this.bus as RabbitBus).topology);
      await this.sideDoor.cleanup();
    }
    for (const close of this.closers) await close();
  }
}

/** The CRM history's statuses, in order. */
export function crmHistory(order: CrmOrder | undefined): OrderStatus[] {
  return (order?.history ?? []).map((h) => h.status);
}
