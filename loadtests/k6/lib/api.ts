// The gateway's operations (openapi/seller-api.yaml, openapi/internal-api.yaml),
// each with its normal answers. A scenario adds what it also accepts through
// CallOptions.alsoExpect (429 for a seller over its limit, 503 under overload).

import { call } from './http.ts';
import type { Answer, CallOptions, Expectation, Seller } from './http.ts';
import type { OrderBody, Parameters } from './data.ts';

const PRICE_JOBS_LIMIT: Expectation = { status: 429, code: 'FACET_ERR_PRICE_JOBS_LIMIT' };
const NOT_CANCELLABLE: Expectation = { status: 409, code: 'FACET_ERR_ORDER_NOT_CANCELLABLE' };

/** Unit costs of each operation (x-ratelimit.cost), to keep offered load within a plan. */
export const UNIT_COST = {
  listOrders: 1,
  getOrder: 1,
  listMaterials: 1,
  getUsage: 1,
  uploadModel: 5,
  createQuote: 10,
  getQuote: 1,
  createOrder: 2,
  cancelOrder: 1,
  // Webhook management: not in the load mix (sellers register a few), listed so the table matches the contract.
  createWebhook: 1,
  listWebhooks: 1,
  deleteWebhook: 1,
  rotateWebhookSecret: 1,
  listWebhookDeliveries: 1,
  replayWebhookDelivery: 1,
  // Key management: not in the load mix either (a seller rotates rarely).
  listKeys: 1,
  rotateKey: 1,
} as const;

export function listOrders(who: Seller, query = '', options?: CallOptions): Answer {
  return call(
    { op: 'listOrders', method: 'GET', path: `/v1/orders${query ? `?${query}` : ''}`, name: 'GET /v1/orders', seller: who, cached: true, expect: [200] },
    options,
  );
}

export function getOrder(who: Seller, id: string, options?: CallOptions): Answer {
  return call(
    { op: 'getOrder', method: 'GET', path: `/v1/orders/${encodeURIComponent(id)}`, name: 'GET /v1/orders/{id}', seller: who, cached: true, expect: [200] },
    options,
  );
}

export function listMaterials(who: Seller, options?: CallOptions): Answer {
  return call({ op: 'listMaterials', method: 'GET', path: '/v1/materials', name: 'GET /v1/materials', seller: who, expect: [200] }, options);
}

export function getUsage(who: Seller, options?: CallOptions): Answer {
  return call({ op: 'getUsage', method: 'GET', path: '/v1/usage', name: 'GET /v1/usage', seller: who, expect: [200] }, options);
}

export function uploadModel(who: Seller, file: ArrayBuffer, filename: string, options?: CallOptions): Answer {
  return call(
    {
      op: 'uploadModel',
      method: 'POST',
      path: '/v1/models',
      name: 'POST /v1/models',
      seller: who,
      body: file,
      headers: { 'Content-Type': 'application/octet-stream', 'X-Filename': filename },
      expect: [201],
    },
    options,
  );
}

/** 200 ready (a known price) or 202 pending; 429 FACET_ERR_PRICE_JOBS_LIMIT is a normal business answer too. */
export function createQuote(who: Seller, modelId: string, parameters: Parameters, options?: CallOptions): Answer {
  return call(
    {
      op: 'createQuote',
      method: 'POST',
      path: '/v1/quotes',
      name: 'POST /v1/quotes',
      seller: who,
      body: JSON.stringify({ model_id: modelId, parameters }),
      headers: { 'Content-Type': 'application/json' },
      expect: [200, 202, PRICE_JOBS_LIMIT],
    },
    options,
  );
}

export function getQuote(who: Seller, id: string, options?: CallOptions): Answer {
  return call(
    { op: 'getQuote', method: 'GET', path: `/v1/quotes/${encodeURIComponent(id)}`, name: 'GET /v1/quotes/{id}', seller: who, expect: [200] },
    options,
  );
}

/**
 * POST /v1/orders with its Idempotency-Key; resending the same key and body must replay the first 202.
 * An order from model_id + parameters starts a price job: 429 FACET_ERR_PRICE_JOBS_LIMIT is a business answer, as for quotes.
 */
export function createOrder(who: Seller, body: OrderBody, idempotencyKey: string, options?: CallOptions): Answer {
  return call(
    {
      op: 'createOrder',
      method: 'POST',
      path: '/v1/orders',
      name: 'POST /v1/orders',
      seller: who,
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
      expect: [202, PRICE_JOBS_LIMIT],
    },
    options,
  );
}

/** 202, or 409 FACET_ERR_ORDER_NOT_CANCELLABLE once manufacturing started. */
export function cancelOrder(who: Seller, id: string, reason: string, options?: CallOptions): Answer {
  return call(
    {
      op: 'cancelOrder',
      method: 'POST',
      path: `/v1/orders/${encodeURIComponent(id)}/cancel`,
      name: 'POST /v1/orders/{id}/cancel',
      seller: who,
      body: JSON.stringify({ reason }),
      headers: { 'Content-Type': 'application/json' },
      expect: [202, NOT_CANCELLABLE],
    },
    options,
  );
}

/**
 * The first pages the gateway keeps warm (refreshAhead in gateway.config.yml):
 * an operator polling these never waits on the MES, even while it is down.
 */
export const WARM_DASHBOARD_QUERIES: readonly string[] = [
  '',
  'status=SUBMITTED',
  'status=PRICE_CALCULATED',
  'status=MANUFACTURING_APPROVED',
  'status=MANUFACTURING_STARTED',
];

export function dashboard(token: string, query = '', options?: CallOptions): Answer {
  return call(
    {
      op: 'dashboard',
      method: 'GET',
      path: `/internal/v1/dashboard/orders${query ? `?${query}` : ''}`,
      name: 'GET /internal/v1/dashboard/orders',
      operatorToken: token,
      cached: true,
      expect: [200],
    },
    options,
  );
}

/** No policies at all: the baseline of the overhead comparison. */
export function healthz(options?: CallOptions): Answer {
  return call({ op: 'healthz', method: 'GET', path: '/healthz', name: 'GET /healthz', expect: [200] }, options);
}

export function readyz(options?: CallOptions): Answer {
  return call({ op: 'readyz', method: 'GET', path: '/readyz', name: 'GET /readyz', expect: [200] }, options);
}
