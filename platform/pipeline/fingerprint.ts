// A request body's fingerprint: canonical JSON (object keys sorted, so their
// order does not matter) hashed. The idempotency policy stores it with a key
// to tell "the same request again" from "the key reused for another one";
// an order's id is derived from it too (gateway/operations/orders-write.ts).

import { createHash } from 'node:crypto';

/** Canonical JSON: object keys sorted, so key order does not change the fingerprint. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function bodyFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url');
}
