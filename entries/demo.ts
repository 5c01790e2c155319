// The embedded default's demo credentials, printed at start.

import { createServer } from 'node:http';
import { SignJWT } from 'jose';
import type { Logger } from 'pino';
import { records } from '../gateway/operations/records.ts';
import type { KeyValueStore } from '../platform/state/kv.ts';
import type { SellerKeyStore } from '../platform/keys/seller-keys.ts';
import { newSecret } from '../platform/webhooks/signature.ts';
import type { WebhookStore } from '../platform/webhooks/store.ts';

export const DEMO_JWT_SECRET = 'facet-demo-jwt-secret-do-not-use-in-production';
export const DEMO_KEYS = [
  { key: 'demo-free-key', seller: 'slr_0001', plan: 'free' },
  { key: 'demo-pro-key', seller: 'slr_0002', plan: 'standard' },
  { key: 'demo-enterprise-key', seller: 'slr_0003', plan: 'enterprise' },
] as const;

export async function demoOperatorToken(secret: string, ttl = '12h', subject = 'op_demo'): Promise<string> {
  return new SignJWT({ role: 'operator' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret));
}

/**
 * The seller spec's write examples (uploadModel's 201, the quote
 * qt_5n8w2c7rk3va, orders from either), recorded at `npm start` so that
 * Swagger UI's "Try it out" works with demo-pro-key. The MES price of this
 * model with these parameters is the examples' (a contract test checks it).
 */
export const DEMO_UPLOAD = {
  seller: 'slr_0002',
  model: { id: 'mdl_7k2q9x4hw1rt', filename: 'signet-lumen-0142.stl', format: 'stl', sha256: 'ae5d6ac74f16ebaa7573be82900cd0c278b2fd80791c6471046ada45cd46e99f', polygons: 184_322, size_bytes: 9_216_184 },
  quote: { id: 'qt_5n8w2c7rk3va', parameters: { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' }, price: { amount_minor: 33_260, currency: 'EUR' } },
} as const;

/** Records the examples' model (gateway and MES simulator) and its ready, priced quote. */
/** A model record as the MES (its simulator) registers it. */
export type DemoModelMeta = (typeof DEMO_UPLOAD)['model'] & { created_at: string };

export async function seedDemoRecords(state: KeyValueStore, mesModels: { register(meta: DemoModelMeta): void } | undefined, now = new Date()): Promise<void> {
  const at = now.toISOString();
  const { model, quote, seller } = DEMO_UPLOAD;
  mesModels?.register({ ...model, created_at: at });
  await records.model.put(state, { ...model, seller_id: seller, created_at: at });
  // Priced already: the quote example answers 200 at once, as a repeated quote does.
  await records.price.put(state, seller, model.sha256, quote.parameters, quote.price);
  await records.quote.put(state, {
    id: quote.id,
    seller_id: seller,
    status: 'ready',
    model_id: model.id,
    sha256: model.sha256,
    parameters: { ...quote.parameters },
    price: { ...quote.price },
    error: null,
    price_job_id: null,
    created_at: at,
    updated_at: at,
  });
}

/**
 * The environment a gateway process validates its config with: outside
 * production, without JWT_SECRET, the demo secret stands in (the start-up
 * lines print a token signed with it). `npm run config:check` uses the same.
 */
export function gatewayEnv(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; demo: boolean } {
  const demo = env.NODE_ENV !== 'production' && !env.JWT_SECRET;
  return { env: demo ? { ...env, JWT_SECRET: DEMO_JWT_SECRET } : env, demo };
}

/**
 * The seller spec's webhook examples: the subscription id of the delete,
 * rotate, deliveries and replay examples (demo-pro-key's), to the example
 * URL's host, and one delivery that succeeded on its second attempt.
 */
export const DEMO_WEBHOOK = {
  seller: 'slr_0002',
  host: 'hooks.lumen-jewels.example',
  subscription: { id: 'wh_8k2m4q6s1v3x', url: 'https://hooks.lumen-jewels.example/facet', event_types: ['order.status_changed'], description: 'Order updates for the shop' },
  delivery: {
    id: 'msg_2Xb8kQ1yP0cR5sT7uV9wA3zD4eF',
    data: { order_id: 'ord_jzsbc0p7cvze', status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null },
  },
} as const;

/** Records the examples' subscription and delivery (again at each start: an example deleted through Try it out comes back). */
export async function seedDemoWebhooks(store: WebhookStore, now = new Date()): Promise<void> {
  const at = now.toISOString();
  const { subscription, delivery, seller } = DEMO_WEBHOOK;
  await store.putSubscription({ ...subscription, event_types: [...subscription.event_types], seller_id: seller, created_at: at, secrets: [{ secret: newSecret(), expires_at: null }] });
  const payload = JSON.stringify({ type: 'order.status_changed', timestamp: at, data: { ...delivery.data, at } });
  const attempt = (status: number, ms: number) => ({ at, status_code: status, error: status === 200 ? null : `receiver answered ${status}`, duration_ms: ms });
  await store.createDelivery({
    id: delivery.id,
    subscription_id: subscription.id,
    seller_id: seller,
    event_type: 'order.status_changed',
    payload,
    status: 'succeeded',
    attempts: [attempt(503, 41), attempt(200, 38)],
    created_at: at,
    updated_at: at,
  });
}

/**
 * The demo's webhook receiver, on loopback: what `npm start` delivers to the
 * example host (WEBHOOKS_DEMO_HOSTS) arrives here, is logged and answered
 * 204, as a seller's endpoint would.
 */
export async function startDemoWebhookReceiver(port: number, log: Logger): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      log.info({ path: req.url, webhook_id: req.headers['webhook-id'], bytes: size }, 'demo webhook receiver: delivery received');
      res.writeHead(req.method === 'POST' ? 204 : 405).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return { origin: `http://127.0.0.1:${bound}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The internal spec's seller-key examples name this key of demo-pro-key's seller. */
export const DEMO_SELLER_KEY = { seller: 'slr_0002', id: 'key_3vk8q1m6zt2c9x4b7d0f' } as const;

/** Issues the examples' key (again at each start, its value never shown), so that revoking it through Try it out works. */
export async function seedDemoKeys(keys: SellerKeyStore): Promise<void> {
  await keys.issue(DEMO_SELLER_KEY.seller, 'demo', DEMO_SELLER_KEY.id);
}
