// The wire format: JSON body; id, type and time in AMQP properties;
// application headers next to the bus's own `x-facet-*` headers.

import type { BusMessage, PublishOptions } from './types.ts';

/** Headers the bus writes; never passed through to or from applications. */
export const HEADER = {
  attempt: 'x-facet-attempt',
  deadReason: 'x-facet-dead-reason',
  deadQueue: 'x-facet-dead-queue',
  lastError: 'x-facet-last-error',
  originalExchange: 'x-facet-original-exchange',
  originalRoutingKey: 'x-facet-original-routing-key',
  publishTag: 'x-facet-publish-tag',
  /** Epoch milliseconds of the first publish (kept across retries): consumer lag at ms resolution (the AMQP timestamp has seconds). */
  publishedAt: 'x-facet-published-at',
} as const;

/** When a delivery was first published: our header, else the AMQP timestamp (seconds), else unknown. */
export function publishedAtMs(headers: Record<string, unknown> | undefined, timestamp: unknown): number | undefined {
  const raw = headers?.[HEADER.publishedAt];
  const ms = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  if (Number.isFinite(ms) && ms > 0) return ms;
  return typeof timestamp === 'number' && timestamp > 0 ? timestamp * 1000 : undefined;
}

const RESERVED_PREFIX = 'x-facet-';
/** Headers RabbitMQ adds when it dead-letters; not application headers. */
const BROKER_HEADERS = /^x-(death|delivery-count|first-death-|last-death-)/;

export function applicationHeaders(raw: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    if (name.startsWith(RESERVED_PREFIX) || BROKER_HEADERS.test(name)) continue;
    if (typeof value === 'string') out[name] = value;
    else if (Buffer.isBuffer(value)) out[name] = value.toString('utf8');
  }
  return out;
}

export interface Encoded {
  content: Buffer;
  messageId: string;
  type: string;
  persistent: boolean;
  headers: Record<string, string>;
}

/** Throws a TypeError for a message that cannot be sent (missing id, body not JSON). */
export function encode(message: BusMessage, options: PublishOptions = {}): Encoded {
  if (typeof message.id !== 'string' || message.id === '') throw new TypeError('bus message needs a non-empty id');
  if (typeof message.type !== 'string' || message.type === '') throw new TypeError('bus message needs a non-empty type');
  const json = JSON.stringify(message.body ?? null) as string | undefined;
  if (json === undefined) throw new TypeError('bus message body is not JSON-serialisable');
  return {
    content: Buffer.from(json, 'utf8'),
    messageId: message.id,
    type: message.type,
    persistent: options.persistent ?? true,
    headers: applicationHeaders({ ...message.headers, ...options.headers }),
  };
}

export type Decoded = { ok: true; message: BusMessage } | { ok: false; reason: string };

/** Rebuilds the message; a payload that is not JSON or lacks an id is reported, not thrown. */
export function decode(content: Buffer, messageId: unknown, type: unknown, headers: Record<string, unknown> | undefined): Decoded {
  if (typeof messageId !== 'string' || messageId === '') return { ok: false, reason: 'missing message id' };
  if (typeof type !== 'string' || type === '') return { ok: false, reason: 'missing message type' };
  let body: unknown;
  try {
    body = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: `unparseable JSON body: ${(err as Error).message}` };
  }
  return { ok: true, message: { id: messageId, type, body, headers: applicationHeaders(headers) } };
}

/** `x-facet-attempt` as a 1-based number (absent or invalid → 1). */
export function attemptOf(headers: Record<string, unknown> | undefined): number {
  const raw = headers?.[HEADER.attempt];
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

export function stringHeader(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}
