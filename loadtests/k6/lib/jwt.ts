// The operator credential for the internal API: OPERATOR_TOKEN as given, or
// an HS256 token minted here from JWT_SECRET (the gateway's secret), or, only
// against a loopback BASE_URL, from the demo secret `npm start` uses. Empty
// when none applies: scripts then leave the operator scenarios out.

import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { BASE_URL, env, isLoopback } from './config.ts';

// entries/demo.ts: the secret `npm start` signs its printed operator token with.
const DEMO_JWT_SECRET = 'facet-demo-jwt-secret-do-not-use-in-production';

export interface MintOptions {
  subject?: string;
  role?: string;
  issuer?: string;
  audience?: string;
  ttlSec?: number;
  nowSec?: number;
}

export function mintHs256(secret: string, options: MintOptions = {}): string {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, string | number> = {
    role: options.role ?? 'operator',
    sub: options.subject ?? 'op_k6_loadtest',
    iat: now,
    exp: now + (options.ttlSec ?? 12 * 3600), // the gateway refuses tokens living longer than 12 h (jwt-auth maxLifetimeSeconds)
  };
  if (options.issuer) payload.iss = options.issuer;
  if (options.audience) payload.aud = options.audience;
  const head = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const body = encoding.b64encode(JSON.stringify(payload), 'rawurl');
  const signature = crypto.hmac('sha256', secret, `${head}.${body}`, 'base64rawurl');
  return `${head}.${body}.${signature}`;
}

function resolveOperatorToken(): { token: string; source: string } {
  const explicit = env('OPERATOR_TOKEN', '');
  if (explicit) return { token: explicit, source: 'OPERATOR_TOKEN' };
  const secret = env('JWT_SECRET', '');
  const options = { issuer: env('JWT_ISSUER', ''), audience: env('JWT_AUDIENCE', '') };
  if (secret) return { token: mintHs256(secret, options), source: 'minted from JWT_SECRET' };
  if (isLoopback(BASE_URL)) return { token: mintHs256(DEMO_JWT_SECRET, options), source: 'minted from the demo secret (loopback only)' };
  return { token: '', source: 'none (set OPERATOR_TOKEN or JWT_SECRET)' };
}

const resolved = resolveOperatorToken();
export const OPERATOR_TOKEN: string = resolved.token;
export const OPERATOR_TOKEN_SOURCE: string = resolved.source;
