// The embedded default's demo credentials, printed at start.

import { SignJWT } from 'jose';

export const DEMO_JWT_SECRET = 'facet-demo-jwt-secret-do-not-use-in-production';
export const DEMO_KEYS = [
  { key: 'demo-free-key', seller: 'slr_0001', plan: 'free' },
  { key: 'demo-pro-key', seller: 'slr_0002', plan: 'standard' },
  { key: 'demo-enterprise-key', seller: 'slr_0003', plan: 'enterprise' },
] as const;

export async function demoOperatorToken(secret: string, ttl = '12h'): Promise<string> {
  return new SignJWT({ role: 'operator' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('op_demo')
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret));
}
