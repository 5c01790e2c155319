// startAdapters: the CRM and MES adapters and the order saga on a bus and a
// state store the caller owns (RabbitMQ + Redis, or the in-process stand-ins
// of `npm start`). The saga's queues are declared first, so the events the
// MES adapter publishes for it are routable from the start. close() stops
// consuming, waits for handlers in flight, closes the upstream pools; the
// bus and the store stay the caller's.

import type { Registry } from 'prom-client';
import type { Bus, Subscription } from '../platform/bus/types.ts';
import type { KeyValueStore } from '../platform/state/kv.ts';
import { CrmClient } from './crm/client.ts';
import { MesClient } from './mes/client.ts';
import { sagaMetricsFor } from './metrics.ts';
import { startMesTranslator, type MesTranslatorOptions } from './mes/consumer.ts';
import { startTakeConsumer } from './mes/take.ts';
import { startWebhooks, type WebhooksOptions } from './webhooks/start.ts';
import { silentLogger, type AdapterLogger } from './shared/logger.ts';
import type { EndpointOverrides } from './shared/upstream.ts';
import { startSagaConsumers, type SagaConsumerOptions } from './saga/consumer.ts';
import { OrderLocks, type LockOptions } from './saga/lock.ts';
import { StatusEvents } from './saga/status-events.ts';
import { SagaStore } from './saga/store.ts';

export interface AdaptersOptions {
  bus: Bus;
  store: KeyValueStore;
  crmUrl: string;
  mesUrl: string;
  logger?: AdapterLogger;
  /** Per-upstream timeout, breaker and bulkhead settings (defaults: shared/upstream.ts). */
  crm?: EndpointOverrides;
  mes?: EndpointOverrides;
  saga?: SagaConsumerOptions & {
    /** Saga state keys: `<keyPrefix><order_id>` (default `facet:saga:`). */
    keyPrefix?: string;
    stateTtlSec?: number;
    lock?: Omit<LockOptions, 'keyPrefix'>;
  };
  mesEvents?: MesTranslatorOptions;
  /** Where the saga's metrics go (adapters/metrics.ts); the bus reports its own. None without it. */
  registry?: Registry;
  /** Sellers' webhooks (fan-out and delivery); not started without. */
  webhooks?: Omit<WebhooksOptions, 'bus' | 'logger'>;
}

export interface Adapters {
  readonly sagaStore: SagaStore;
  close(): Promise<void>;
}

export async function startAdapters(options: AdaptersOptions): Promise<Adapters> {
  const logger = options.logger ?? silentLogger;
  const sagaOptions = options.saga ?? {};
  const crm = new CrmClient(options.crmUrl, options.crm);
  const mes = new MesClient(options.mesUrl, options.mes);
  const store = new SagaStore(options.store, { ...(sagaOptions.keyPrefix !== undefined && { keyPrefix: sagaOptions.keyPrefix }), ...(sagaOptions.stateTtlSec !== undefined && { ttlSec: sagaOptions.stateTtlSec }) });
  const locks = new OrderLocks(options.store, { ...sagaOptions.lock, keyPrefix: store.keyPrefix });
  const metrics = options.registry ? sagaMetricsFor(options.registry) : undefined;
  const deps = { crm, mes, store, events: new StatusEvents(options.bus, logger), logger, metrics };
  const subscriptions: Subscription[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(subscriptions.splice(0).map((s) => s.cancel()));
    await Promise.allSettled([crm.close(), mes.close()]);
  };
  try {
    subscriptions.push(...(await startSagaConsumers(options.bus, deps, locks, sagaOptions)));
    subscriptions.push(await startMesTranslator(options.bus, logger, options.mesEvents));
    subscriptions.push(await startTakeConsumer(options.bus, mes, logger));
    if (options.webhooks) {
      const webhooks = await startWebhooks({ ...options.webhooks, bus: options.bus, logger });
      subscriptions.push({ cancel: () => webhooks.close() });
    }
  } catch (err) {
    await close();
    throw err;
  }
  logger.info({ bus: options.bus.kind, crm: options.crmUrl, mes: options.mesUrl }, 'adapters started');
  return { sagaStore: store, close };
}
