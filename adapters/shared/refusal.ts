// How an adapter reads an upstream answer. The UpstreamClient already throws
// for 5xx, timeouts, refused connections, an open breaker and a full
// bulkhead: those are transient, and the saga hands the message back to the
// bus for a delayed retry. A 4xx is the upstream deciding, i.e. permanent,
// except 408/425/429, which only say "not now" and are thrown as transient.

import type { UpstreamResponse } from '../../platform/upstream/client.ts';

export type Answer<T> = { ok: true; status: number; body: T } | { ok: false; status: number; error: string; reason: string | null };

/** A 4xx that means "try again later". */
export class UpstreamBusyError extends Error {
  readonly status: number;
  constructor(upstream: string, status: number) {
    super(`${upstream} answered ${status} (try later)`);
    this.name = 'UpstreamBusyError';
    this.status = status;
  }
}

const NOT_NOW: ReadonlySet<number> = new Set([408, 425, 429]);

function field(body: unknown, name: string): string | null {
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : null;
}

/** 2xx → ok; 408/425/429 → throws UpstreamBusyError; other 4xx → a refusal with the upstream's error and reason. */
export function answer<T>(upstream: string, response: UpstreamResponse<unknown>): Answer<T> {
  const { status, body } = response;
  if (status >= 200 && status < 300) return { ok: true, status, body: body as T };
  if (NOT_NOW.has(status)) throw new UpstreamBusyError(upstream, status);
  return { ok: false, status, error: field(body, 'error') ?? `${upstream} answered ${status}`, reason: field(body, 'reason') };
}
