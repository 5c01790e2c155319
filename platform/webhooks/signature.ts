// Standard Webhooks signing (https://www.standardwebhooks.com):
//   webhook-signature: v1,<base64 HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)>
// The secret is `whsec_` + base64 of random bytes; the HMAC key is those
// bytes. During a rotation's overlap both secrets sign: the header then
// carries two space-separated signatures, and a receiver accepts either.

import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString('base64');
}

export function sign(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/** Headers of one attempt: the same id every time, this attempt's timestamp, one signature per live secret. */
export function signedHeaders(secrets: readonly string[], id: string, timestampSec: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampSec, body)).join(' '),
  };
}
