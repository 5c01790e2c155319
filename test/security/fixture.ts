// The in-process stack the security suites attack (real simulators, Redis
// at TEST_REDIS_URL, in-process bus with a stand-in saga consumer), and each
// demo seller's own resources, created through the API.

import { SignJWT } from 'jose';
import type { OrderStatusChangedEvent } from '../../contracts/messages.ts';
import { statusPayload } from '../../adapters/webhooks/fanout.ts';
import { sha256Hex } from '../../platform/pipeline/consumers.ts';
import { DEMO_KEYS } from '../../entries/demo.ts';
import { binaryStl } from '../helpers/models.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { startStack, TEST_JWT_SECRET, type Stack, type StackOptions } from '../helpers/stack.ts';
import { Http } from './http.ts';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Seller {
  key: string;
  id: string;
  plan: string;
  /** Ids of this seller's resources by prefix (`ord_`, `mdl_`, `qt_`, ...). */
  ids: Map<string, string[]>;
}

export interface SecurityStack {
  stack: Stack;
  http: Http;
  sellers: Seller[];
  operatorToken: string;
  close(): Promise<void>;
}

export const REVOKED_KEY = 'revoked-test-key';
export const ORDER_BODY = {
  customer: { name: 'Ana Martin', email: 'ana.martin@example.com' },
  shipping: { name: 'Ana Martin', line1: '12 Rue Test', city: 'Paris', postal_code: '75001', country: 'FR' },
};
export const PARAMETERS = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' };

/** Plans so generous that quotas never mask what a request does (the quota check has its own stack). */
export function raiseLimits(doc: Doc): void {
  for (const plan of Object.values(doc.plans as Record<string, Doc>)) {
    plan.rate = { perSecond: 1_000_000, burst: 1_000_000, burstWindowSec: 10 };
    plan.dailyQuota = 1_000_000_000;
    plan.concurrentPriceJobs = 1_000_000;
  }
  doc.quota.invalidKeyAttempts = 1_000_000;
}

/** A consumer whose only key is revoked: authenticates like an unknown key. */
export function addRevokedConsumer(doc: Doc): void {
  (doc.consumers as Doc[]).push({
    id: 'slr_0099',
    name: 'Revoked Seller',
    plan: 'free',
    keys: [{ id: 'revoked', sha256: sha256Hex(REVOKED_KEY), revoked: true }],
  });
}

export async function operatorToken(claims: Record<string, unknown> = { role: 'operator' }, options: { expiresIn?: string | number; secret?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('op_test')
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

function add(seller: Seller, id: unknown): void {
  if (typeof id !== 'string') return;
  const prefix = id.slice(0, id.indexOf('_') + 1);
  seller.ids.set(prefix, [...(seller.ids.get(prefix) ?? []), id]);
}

export async function startSecurityStack(options: StackOptions = {}): Promise<SecurityStack> {
  await clearRedis();
  const stack = await startStack({ redisUrl: REDIS_URL, ...options });
  // Stands in for the saga: order commands are routed and confirmed.
  await stack.gateway.services.bus.consume({ queue: 'test.security.saga', bindings: [{ exchange: 'commands', pattern: 'order.*' }] }, async () => 'ack');
  // And for the adapters' webhook sender: replays are routed and confirmed.
  await stack.gateway.services.bus.consume({ queue: 'test.security.webhooks', bindings: [{ exchange: 'commands', pattern: 'webhook.*' }] }, async () => 'ack');
  const http = new Http(stack.url);
  const sellers: Seller[] = DEMO_KEYS.map((k) => ({ key: k.key, id: k.seller, plan: k.plan, ids: new Map() }));
  for (const [i, seller] of sellers.entries()) {
    const headers = { 'x-api-key': seller.key };
    const list = await http.send({ method: 'GET', path: '/v1/orders?limit=5', headers });
    for (const order of (list.json as { items: { id: string }[] }).items) add(seller, order.id);
    const model = await http.send({ method: 'POST', path: '/v1/models', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: binaryStl(20, 100 + i) });
    const modelId = (model.json as { id: string }).id;
    add(seller, modelId);
    const quote = await http.send({ method: 'POST', path: '/v1/quotes', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ model_id: modelId, parameters: PARAMETERS }) });
    add(seller, (quote.json as { id: string }).id);
    const order = await http.send({
      method: 'POST',
      path: '/v1/orders',
      headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': `security-setup-${seller.id}` },
      body: JSON.stringify({ model_id: modelId, parameters: PARAMETERS, ...ORDER_BODY }),
    });
    add(seller, (order.json as { id: string }).id);
    // Two webhooks: a DELETE check removes one, the others keep using the first.
    let webhook: Awaited<ReturnType<Http['send']>> | undefined;
    for (const n of [1, 2]) {
      webhook = await http.send({
        method: 'POST',
        path: '/v1/webhooks',
        headers: { ...headers, 'content-type': 'application/json' },
        // A public address, registered only: the adapters, which would deliver, do not run in this stack.
        body: JSON.stringify({ url: `https://93.184.215.14/hooks/${seller.id}/${n}`, event_types: ['order.status_changed'] }),
      });
      add(seller, (webhook.json as { id: string }).id);
    }
    const webhookId = seller.ids.get('wh_')?.[0] as string;
    // A delivery as the adapters' fan-out records it (they do not run in this stack).
    const at = new Date().toISOString();
    const deliveryId = `msg_security${seller.id.replace('_', '')}`;
    const orderId = seller.ids.get('ord_')?.[0] as string;
    const payload = statusPayload({ order_id: orderId, seller_id: seller.id, status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null, at } as OrderStatusChangedEvent);
    await stack.gateway.services.webhooks.createDelivery({ id: deliveryId, subscription_id: webhookId, seller_id: seller.id, event_type: 'order.status_changed', payload, status: 'failed', attempts: [], created_at: at, updated_at: at });
    add(seller, deliveryId);
    // The seller itself, and a key an operator issued it (the operators' key routes name both).
    add(seller, seller.id);
    const issued = await http.send({ method: 'POST', path: `/internal/v1/sellers/${seller.id}/keys`, headers: { authorization: `Bearer ${stack.operatorToken}` } });
    add(seller, (issued.json as { id: string }).id);
    for (const prefix of ['ord_', 'mdl_', 'qt_', 'wh_', 'msg_', 'slr_', 'key_']) if (!seller.ids.get(prefix)?.length) throw new Error(`setup: ${seller.id} has no ${prefix} id (${model.status} ${quote.status} ${order.status} ${webhook?.status})`);
  }
  return {
    stack,
    http,
    sellers,
    operatorToken: stack.operatorToken,
    async close() {
      await http.close();
      await stack.close();
    },
  };
}
