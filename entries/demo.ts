// The embedded default's demo credentials, printed at start.

import { SignJWT } from 'jose';
import { records } from '../gateway/operations/records.ts';
import type { KeyValueStore } from '../platform/state/kv.ts';

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
