// Sends webhook deliveries from the `webhooks.deliveries` queue. A failed
// attempt (non-2xx, timeout, refused address) is handed back to the bus,
// which retries it after the next delay level (exponential, over hours;
// time-scaled in tests); after the last attempt it is parked in the
// dead-letter queue and the delivery is marked failed. Delays are jittered
// (backoff.ts). Every attempt sends
// the same body with the same `webhook-id`, signed with its own timestamp by
// every secret still live (two during a rotation's overlap).

import type { Counter } from 'prom-client';
import type { Delivery as BusDelivery, HandlerResult } from '../../platform/bus/types.ts';
import type { WebhookDeliverCommand } from '../../contracts/messages.ts';
import type { AdapterLogger } from '../shared/logger.ts';
import type { WebhookSender } from './sender.ts';
import { withAttempt, type Subscription, type WebhookStore } from '../../platform/webhooks/store.ts';

export const WEBHOOK_DELIVERIES_QUEUE = 'webhooks.deliveries';

/** Standard Webhooks' suggested schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over ~27.5 h). */
export const DEFAULT_WEBHOOK_RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const DEFAULT_WEBHOOK_MAX_ATTEMPTS = 8;

export function liveSecrets(subscription: Subscription, now = Date.now()): string[] {
  return subscription.secrets.filter((s) => s.expires_at === null || Date.parse(s.expires_at) > now).map((s) => s.secret);
}

export interface DeliverDeps {
  store: WebhookStore;
  sender: WebhookSender;
  maxAttempts: number;
  /** The delay before the attempt after `attempt` (jittered; one of the consumer's retryDelaysMs). */
  retryDelay: (attempt: number) => number;
  logger: AdapterLogger;
  outcomes: Counter<'outcome'>;
}

export function deliverHandler(deps: DeliverDeps): (delivery: BusDelivery) => Promise<HandlerResult> {
  return async ({ message, attempt }) => {
    const command = message.body as WebhookDeliverCommand;
    if (typeof command?.delivery_id !== 'string') return { dead: 'webhook.deliver without delivery_id' };
    const delivery = await deps.store.getDelivery(command.delivery_id);
    if (!delivery) return { dead: `unknown delivery ${command.delivery_id}` };
    if (delivery.status === 'succeeded' && !command.replay) return 'ack';
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
