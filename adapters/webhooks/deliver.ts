// Sends webhook deliveries from the `webhooks.deliveries` queue. A failed
// attempt (non-2xx, timeout, refused address) is handed back to the bus,
// which retries it after the next delay level (exponential, over hours;
// time-scaled in tests); after the last attempt it is parked in the
// dead-letter queue and the delivery is marked failed. Delays are jittered
// (backoff.ts). Every attempt sends
// the same body with the same `webhook-id`, signed with its own timestamp by
// every secret still live (two during a rotation's overlap).
//
// Fairness: one shared queue serves every seller, and an attempt may hold a
// consumer slot for up to connect + response timeout (13 s). So each seller
// has at most `perSellerInFlight` attempts in flight in this consumer; a
// delivery of a seller at its cap is deferred (put back after `deferMs`, no
// attempt counted), which frees the slot at once for other sellers. A
// seller with a black-hole endpoint thus holds a few slots, never the
// queue. See docs/reliability.md.

import type { Counter } from 'prom-client';
import type { Delivery as BusDelivery, HandlerResult } from '../../platform/bus/types.ts';
import type { WebhookDeliverCommand } from '../../contracts/messages.ts';
import type { AdapterLogger } from '../shared/logger.ts';
import type { WebhookSender } from './sender.ts';
import { withAttempt, type Delivery, type Subscription, type WebhookStore } from '../../platform/webhooks/store.ts';

export const WEBHOOK_DELIVERIES_QUEUE = 'webhooks.deliveries';

/** Standard Webhooks' suggested schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over ~27.5 h). */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const DEFAULT_WEBHOOK_MAX_ATTEMPTS = 8;

export function liveSecrets(subscription: Subscription, now = Date.now()): string[] {
  return subscription.secrets.filter((s) => s.expires_at === null || Date.parse(s.expires_at) > now).map((s) => s.secret);
}

/** Attempts of one seller in flight in one consumer, out of its prefetch (32). */
export const DEFAULT_PER_SELLER_IN_FLIGHT = 4;
/** How long a delivery of a seller at its cap waits before it is looked at again. */
export const DEFAULT_DEFER_MS = 2_000;

export interface Fairness {
  perSellerInFlight: number;
  deferMs: number;
}

export interface DeliverDeps {
  store: WebhookStore;
  sender: WebhookSender;
  maxAttempts: number;
  /** The delay before the attempt after `attempt` (jittered; one of the consumer's retryDelaysMs). */
  retryDelay: (attempt: number) => number;
  logger: AdapterLogger;
  outcomes: Counter<'outcome'>;
  fairness?: Fairness;
}

export function deliverHandler(deps: DeliverDeps): (delivery: BusDelivery) => Promise<HandlerResult> {
  const { perSellerInFlight, deferMs } = deps.fairness ?? { perSellerInFlight: DEFAULT_PER_SELLER_IN_FLIGHT, deferMs: DEFAULT_DEFER_MS };
  const inFlight = new Map<string, number>();
  const attemptFor = deliverAttempt(deps);
  return async (busDelivery) => {
    const command = busDelivery.message.body as WebhookDeliverCommand;
    if (typeof command?.delivery_id !== 'string') return { dead: 'webhook.deliver without delivery_id' };
    const delivery = await deps.store.getDelivery(command.delivery_id);
    if (!delivery) return { dead: `unknown delivery ${command.delivery_id}` };
    if (delivery.status === 'succeeded' && !command.replay) return 'ack';
    const seller = delivery.seller_id;
    const busy = inFlight.get(seller) ?? 0;
    if (busy >= perSellerInFlight) {
      deps.outcomes.inc({ outcome: 'deferred' });
      return { deferInMs: deferMs };
    }
    inFlight.set(seller, busy + 1);
    try {
      return await attemptFor(delivery, busDelivery.attempt);
    } finally {
      const left = (inFlight.get(seller) ?? 1) - 1;
      if (left > 0) inFlight.set(seller, left);
      else inFlight.delete(seller);
    }
  };
}

/** One attempt at a delivery: sent, recorded, and acked, retried later or parked. */
function deliverAttempt(deps: DeliverDeps): (delivery: Delivery, attempt: number) => Promise<HandlerResult> {
  return async (delivery, attempt) => {
    const subscription = await deps.store.getSubscription(delivery.subscription_id);
    if (!subscription) {
      deps.outcomes.inc({ outcome: 'cancelled' });
      return 'ack'; // deleted since: nothing to send
    }
    const result = await deps.sender.send(subscription.url, delivery.id, delivery.payload, liveSecrets(subscription));
    const at = new Date().toISOString();
    const record = { at, status_code: result.status_code, error: result.error, duration_ms: result.duration_ms };
    if (result.ok) {
      await deps.store.putDelivery(withAttempt(delivery, record, 'succeeded'));
      deps.outcomes.inc({ outcome: 'succeeded' });
      return 'ack';
    }
    const last = attempt >= deps.maxAttempts;
    await deps.store.putDelivery(withAttempt(delivery, record, last ? 'failed' : 'pending'));
    deps.outcomes.inc({ outcome: last ? 'dead' : 'retry' });
    deps.logger.info({ delivery: delivery.id, attempt, error: result.error }, last ? 'webhook delivery failed for good' : 'webhook delivery failed; retrying');
    return last ? { dead: `webhook delivery failed after ${attempt} attempts: ${result.error ?? 'unknown'}` } : { retryInMs: deps.retryDelay(attempt) };
  };
}
