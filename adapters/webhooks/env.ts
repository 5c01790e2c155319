// Webhook settings from the environment, for `npm start` and `npm run adapters`:
//   WEBHOOK_RETRY_DELAYS_MS   comma-separated delays between attempts (default 5 s … 10 h)
//   WEBHOOK_MAX_ATTEMPTS      attempts before the dead letter (default 8)
//   WEBHOOKS_ALLOW_LOOPBACK   1: loopback receivers allowed (tests, demos; refused in production)
//   WEBHOOKS_DEMO_HOSTS       host=http://127.0.0.1:port,...: demo hosts delivered to a loopback receiver (npm start; refused in production)

import type { RedisClient } from '../../platform/redis.ts';
import type { WebhooksOptions } from './start.ts';
import { processWebhookStore, RedisWebhookStore } from '../../platform/webhooks/store.ts';
import { urlPolicyFromEnv } from '../../platform/webhooks/url-guard.ts';

export function webhooksFromEnv(env: NodeJS.ProcessEnv, redis: RedisClient | undefined): Omit<WebhooksOptions, 'bus' | 'logger'> {
  const options: Omit<WebhooksOptions, 'bus' | 'logger'> = {
    store: redis ? new RedisWebhookStore(redis) : processWebhookStore(),
    policy: urlPolicyFromEnv(env),
  };
  if (env.WEBHOOK_RETRY_DELAYS_MS) {
    const delays = env.WEBHOOK_RETRY_DELAYS_MS.split(',').map((s) => Number(s.trim()));
    if (delays.length === 0 || !delays.every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`WEBHOOK_RETRY_DELAYS_MS must be comma-separated integers >= 0, got "${env.WEBHOOK_RETRY_DELAYS_MS}"`);
    options.retryDelaysMs = delays;
  }
  if (env.WEBHOOK_MAX_ATTEMPTS) {
    const attempts = Number(env.WEBHOOK_MAX_ATTEMPTS);
    if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`WEBHOOK_MAX_ATTEMPTS must be an integer >= 1, got "${env.WEBHOOK_MAX_ATTEMPTS}"`);
    options.maxAttempts = attempts;
  }
  return options;
}
