// The operators' credentials in the benchmark: the JWT secret every gateway
// the harness starts verifies operator tokens with (gateway-service.ts passes
// it as JWT_SECRET), and the tokens signed with it for the scenarios that
// call operator routes (the dashboard, the live order stream).

import { SignJWT } from 'jose';

/** Any 32+ character secret; the gateway verifies operator tokens with it, operatorToken() signs them. */
export const BENCH_JWT_SECRET = 'facet-bench-jwt-secret-not-for-production-use';

/** An operator's bearer token for the gateway's jwt-auth (HS256, role operator), valid for two hours. */
export async function operatorToken(subject = 'facet-bench'): Promise<string> {
  return new SignJWT({ role: 'operator' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(BENCH_JWT_SECRET));
}
