// startWebhooks: the webhook fan-out and delivery consumers on a bus and a
// webhook store the caller owns.

import { Counter, type Registry } from 'prom-client';
import type { Bus, Subscription as BusSubscription } from '../../platform/bus/types.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { silentLogger, type AdapterLogger } from '../shared/logger.ts';
import { jitteredDelay, jitteredLevels } from './backoff.ts';
import { DEFAULT_DEFER_MS, DEFAULT_PER_SELLER_IN_FLIGHT, DEFAULT_WEBHOOK_MAX_ATTEMPTS, DEFAULT_WEBHOOK_RETRY_DELAYS_MS, deliverHandler, WEBHOOK_DELIVERIES_QUEUE, type Fairness } from './deliver.ts';
import { fanoutHandler, WEBHOOK_EVENTS_QUEUE } from './fanout.ts';
import { DEFAULT_SENDER_OPTIONS, WebhookSender, type SenderOptions } from './sender.ts';
import type { WebhookStore } from '../../platform/webhooks/store.ts';
import type { UrlPolicy } from '../../platform/webhooks/url-guard.ts';

export interface WebhooksOptions {
  bus: Bus;
  store: WebhookStore;
  policy: UrlPolicy;
  logger?: AdapterLogger;
  retryDelaysMs?: number[];
  maxAttempts?: number;
  sender?: Partial<SenderOptions>;
  /** Per-seller attempts in flight in this consumer, and how long a delivery over that waits (deliver.ts). */
  fairness?: Partial<Fairness>;
  /** Where `facet_webhook_deliveries_total{outcome}` is registered (none: kept private). */
  registry?: Registry;
}

export interface Webhooks {
  close(): Promise<void>;
}

export async function startWebhooks(options: WebhooksOptions): Promise<Webhooks> {
  const sender = new WebhookSender(options.policy, { ...DEFAULT_SENDER_OPTIONS, ...options.sender });
  const outcomes = new Counter({
    name: 'facet_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: succeeded, retry, dead (after the last attempt), cancelled (subscription deleted), deferred (its seller had as many attempts in flight as allowed; no attempt made).',
    labelNames: ['outcome'] as const,
    registers: options.registry ? [options.registry] : [],
  });
  const maxAttempts = options.maxAttempts ?? DEFAULT_WEBHOOK_MAX_ATTEMPTS;
  const schedule = options.retryDelaysMs ?? DEFAULT_WEBHOOK_RETRY_DELAYS_MS;
  const fairness: Fairness = { perSellerInFlight: DEFAULT_PER_SELLER_IN_FLIGHT, deferMs: DEFAULT_DEFER_MS, ...options.fairness };
  // The deferral's delay needs a delay queue of its own level.
  const levels = [...new Set([...jitteredLevels(schedule), fairness.deferMs])].sort((a, b) => a - b);
  const subscriptions: BusSubscription[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(subscriptions.splice(0).map((s) => s.cancel()));
    await sender.close();
  };
  try {
    subscriptions.push(
      await options.bus.consume(
        { queue: WEBHOOK_DELIVERIES_QUEUE, bindings: [{ exchange: 'commands', pattern: ROUTING.webhookDeliver }], prefetch: 32, maxAttempts, retryDelaysMs: levels },
        deliverHandler({ store: options.store, sender, maxAttempts, retryDelay: (attempt) => jitteredDelay(schedule, attempt), logger: options.logger ?? silentLogger, outcomes, fairness }),
      ),
    );
    subscriptions.push(await options.bus.consume({ queue: WEBHOOK_EVENTS_QUEUE, bindings: [{ exchange: 'events', pattern: ROUTING.statusChanged }, { exchange: 'events', pattern: ROUTING.quoteSettled }], prefetch: 32 }, fanoutHandler(options.bus, options.store)));
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}
