// A fake Facet gateway for dry runs of the k6 scripts (test/k6/scripts.test.ts):
// answers every operation of the contract the way the real one does on a
// good day, and records every request that the contract would refuse
// (unknown route, malformed id, body or header), so a script that drifts
// from openapi/seller-api.yaml fails the test. PUT /_sim/faults on the MES
// admin port takes its MES-backed operations down, like the simulator.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import type { StubRequest, StubResponse } from './stubs/state.ts';

const SELLER_SPEC = parse(readFileSync(new URL('../../openapi/seller-api.yaml', import.meta.url), 'utf8')) as { components: { schemas: Record<string, unknown> } };
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ $id: 'seller', components: SELLER_SPEC.components } as never);
const validator = (name: string) => ajv.getSchema(`seller#/components/schemas/${name}`) ?? ajv.compile({ $ref: `seller#/components/schemas/${name}` });

// The demo sellers, and two load-test sellers whose limits are out of reach (consumers[].overrides).
const SELLERS: Record<string, { plan: string; rate: number; daily: number }> = {
  'demo-free-key': { plan: 'free', rate: 5, daily: 5000 },
  'demo-pro-key': { plan: 'standard', rate: 50, daily: 200000 },
  'demo-enterprise-key': { plan: 'enterprise', rate: 200, daily: 2000000 },
  'loadtest-paid-key': { plan: 'enterprise', rate: 1000000, daily: 1000000000 },
  'loadtest-free-key': { plan: 'free', rate: 1000000, daily: 1000000000 },
};
export const DEMO_JWT_SECRET = 'facet-demo-jwt-secret-do-not-use-in-production';
const STATUSES = ['INITIATED', 'FILE_UPLOADED', 'SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED', 'CLOSED', 'REJECTED', 'CANCELLED'];

export interface FakeGateway {
  respond: (request: StubRequest) => StubResponse;
  /** Requests the real gateway would refuse, with why. */
  violations: string[];
  mesDown: boolean;
}

function id(prefix: string, n: number, length: number): string {
  return prefix + n.toString(36).padStart(length, '0').slice(-length);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): StubResponse {
  return { status, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': 'fake', ...headers }, timings: { duration: 2 + Math.random() * 3 } };
}

function problem(status: number, code: string, headers: Record<string, string> = {}): StubResponse {
  const r = json(status, { type: '/problems/x', title: code, status, code, request_id: 'fake' }, headers);
  r.headers['Content-Type'] = 'application/problem+json; charset=utf-8';
  return r;
}

function verifyHs256(token: string): Record<string, unknown> | null {
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) return null;
  const expected = createHmac('sha256', DEMO_JWT_SECRET).update(`${head}.${body}`).digest('base64url');
  if (expected !== signature) return null;
  const header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: string };
  if (header.alg !== 'HS256') return null;
  return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function fakeGateway(base = 'http://localhost:8080', mesAdmin = 'http://localhost:8191'): FakeGateway {
  let counter = 1000;
  const models = new Set<string>();
  const quotes = new Map<string, { status: string; model: string }>();
  const orders = new Set<string>();
  const idempotency = new Map<string, { body: string; id: string }>();
  const gw: FakeGateway = { respond, violations: [], mesDown: false };

  function violate(request: StubRequest, why: string): void {
    gw.violations.push(`${request.method} ${request.url}: ${why}`);
  }

  function checkBody(request: StubRequest, schema: string): unknown {
    let body: unknown;
    try {
      body = JSON.parse(String(request.body));
    } catch {
      violate(request, 'body is not JSON');
      return null;
    }
    const validate = validator(schema);
    if (!validate(body)) violate(request, `body is not a ${schema}: ${ajv.errorsText(validate.errors)}`);
    return body;
  }

  function respond(request: StubRequest): StubResponse {
    const headers = request.params?.headers ?? {};
    if (request.url.startsWith(mesAdmin)) {
      if (request.method !== 'PUT' || !request.url.endsWith('/_sim/faults')) {
        violate(request, 'not PUT /_sim/faults');
        return json(404, {});
      }
      const faults = JSON.parse(String(request.body)) as { down?: boolean; hang?: boolean; error_rate?: number };
      gw.mesDown = Boolean(faults.down || faults.hang || (faults.error_rate ?? 0) > 0);
      return json(200, faults);
    }
    if (!request.url.startsWith(base)) {
      violate(request, `not under ${base}`);
      return json(404, {});
    }
    const url = new URL(request.url);
    const path = url.pathname;
    const route = `${request.method} ${path}`;
    if (!request.params?.tags?.name) violate(request, 'no name tag (one time series per URL)');

    if (route === 'GET /healthz') return json(200, { status: 'ok' });
    if (route === 'GET /readyz') return json(200, { status: 'ready', checks: {} });

    if (path.startsWith('/internal/')) {
      const token = (headers.Authorization ?? '').replace(/^Bearer /, '');
      const claims = verifyHs256(token);
      if (!claims || claims.role !== 'operator' || typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return problem(401, 'FACET_ERR_AUTH_INVALID_TOKEN');
      if (route !== 'GET /internal/v1/dashboard/orders') {
        violate(request, 'unknown internal route');
        return problem(404, 'FACET_ERR_NOT_FOUND');
      }
      for (const [k, v] of url.searchParams) if (!(k === 'status' && STATUSES.includes(v)) && !(k === 'limit' && Number(v) >= 1 && Number(v) <= 100)) violate(request, `bad query ${k}=${v}`);
      return json(200, { items: [], next_cursor: null }, { 'Cache-Status': gw.mesDown ? 'facet; hit; ttl=-20; detail=stale-if-error' : 'facet; hit; ttl=6' });
    }

    const who = SELLERS[headers['X-API-Key'] ?? ''];
    if (!who) return problem(401, 'FACET_ERR_AUTH_INVALID_KEY');
    const plan = who.plan;
    const rl = { RateLimit: '"rate";r=10;t=1', 'RateLimit-Policy': `"rate";q=${who.rate};w=1` };
    const mesDown = () => problem(503, 'FACET_ERR_UPSTREAM_UNAVAILABLE', { 'Retry-After': '5' });

    let m: RegExpExecArray | null;
    if (route === 'GET /v1/usage') {
      return json(200, {
        seller_id: `slr_${plan}`,
        plan,
        windows: [
          { name: 'rate', limit: who.rate, window_seconds: 1, used: 0, remaining: who.rate, reset_seconds: 1 },
          { name: 'daily', limit: who.daily, window_seconds: 86400, used: 0, remaining: who.daily, reset_seconds: 86400 },
        ],
      }, rl);
    }
    if (route === 'GET /v1/orders') {
      for (const [k, v] of url.searchParams) {
        const ok =
          (k === 'limit' && Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 100) ||
          (k === 'status' && STATUSES.includes(v)) ||
          ((k === 'created_from' || k === 'created_to') && !Number.isNaN(Date.parse(v)) && /T/.test(v)) ||
          (k === 'cursor' && /^[A-Za-z0-9_-]{1,512}$/.test(v));
        if (!ok) violate(request, `bad query ${k}=${v}`);
      }
      const items = Array.from({ length: 5 }, (_, i) => ({ id: id('ord_', 7000 + i, 12) }));
      return json(200, { items, next_cursor: 'cursorPage2' }, { ...rl, 'Cache-Status': 'facet; hit; ttl=4' });
    }
    if ((m = /^GET \/v1\/orders\/([^/]+)$/.exec(route))) {
      if (!/^ord_[0-9a-z]{8,32}$/.test(m[1] ?? '')) violate(request, 'malformed order id');
      return json(200, { id: m[1] }, { ...rl, 'Cache-Status': 'facet; fwd=miss; stored' });
    }
    if (route === 'POST /v1/orders') {
      const key = headers['Idempotency-Key'] ?? '';
      if (!/^[\x21-\x7E]{1,255}$/.test(key)) violate(request, `bad Idempotency-Key "${key}"`);
      const body = checkBody(request, 'CreateOrderRequest') as { model_id?: string; quote_id?: string } | null;
      if (body?.model_id && !models.has(body.model_id)) violate(request, `model ${body.model_id} was never uploaded`);
      if (body?.quote_id && quotes.get(body.quote_id)?.status !== 'ready') violate(request, `quote ${body.quote_id} is not ready`);
      const seen = idempotency.get(key);
      if (seen) {
        if (seen.body !== String(request.body)) return problem(422, 'FACET_ERR_IDEMPOTENCY_KEY_REUSED');
        return json(202, { id: seen.id, status: 'SUBMITTED' }, { ...rl, 'Idempotent-Replayed': 'true', Location: `/v1/orders/${seen.id}` });
      }
      const orderId = id('ord_', counter++, 12);
      orders.add(orderId);
      idempotency.set(key, { body: String(request.body), id: orderId });
      return json(202, { id: orderId, status: 'SUBMITTED' }, { ...rl, Location: `/v1/orders/${orderId}` });
    }
    if ((m = /^POST \/v1\/orders\/([^/]+)\/cancel$/.exec(route))) {
      if (!orders.has(m[1] ?? '')) violate(request, `cancels ${m[1]}, an order the test did not place`);
      checkBody(request, 'CancelOrderRequest');
      return json(202, { id: m[1], status: 'SUBMITTED', cancellation: 'requested' }, rl);
    }
    if (route === 'GET /v1/materials') return gw.mesDown ? mesDown() : json(200, { materials: [], finishes: [], size_mm: { min: 1, max: 200 } }, rl);
    if (route === 'POST /v1/models') {
      if (gw.mesDown) return mesDown();
      const bytes = request.body instanceof ArrayBuffer ? new Uint8Array(request.body) : null;
      if (!bytes) violate(request, 'model body is not binary');
      else {
        const count = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(80, true);
        if (bytes.byteLength !== 84 + 50 * count) violate(request, `not a binary STL (${bytes.byteLength} bytes for ${count} triangles)`);
      }
      if (!['application/octet-stream', 'model/stl'].includes(headers['Content-Type'] ?? '')) violate(request, 'Content-Type');
      const modelId = id('mdl_', counter++, 12);
      models.add(modelId);
      return json(201, { id: modelId, format: 'stl' }, rl);
    }
    if (route === 'POST /v1/quotes') {
      if (gw.mesDown) return mesDown();
      const body = checkBody(request, 'QuoteRequest') as { model_id?: string } | null;
      if (body?.model_id && !models.has(body.model_id)) violate(request, `model ${body.model_id} was never uploaded`);
      const quoteId = id('qt_', counter++, 12);
      quotes.set(quoteId, { status: 'pending', model: body?.model_id ?? '' });
      return json(202, { id: quoteId, status: 'pending' }, { ...rl, 'Retry-After': '1', Location: `/v1/quotes/${quoteId}` });
    }
    if ((m = /^GET \/v1\/quotes\/([^/]+)$/.exec(route))) {
      if (!/^qt_[0-9a-z]{12}$/.test(m[1] ?? '')) violate(request, 'malformed quote id');
      if (gw.mesDown) return mesDown();
      const quote = quotes.get(m[1] ?? '');
      if (!quote) return problem(404, 'FACET_ERR_NOT_FOUND');
      quote.status = 'ready';
      return json(200, { id: m[1], status: 'ready' }, rl);
    }
    violate(request, 'no such operation in openapi/seller-api.yaml');
    return problem(404, 'FACET_ERR_NOT_FOUND');
  }

  return gw;
}
