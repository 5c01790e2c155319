// Query-string parsing shared by the list endpoints; bad input → 400 {error, field}.
import { ORDER_STATUSES } from '../../contracts/orders.ts';
import type { OrderStatus } from '../../contracts/orders.ts';
import { decodeCursor } from './cursor.ts';
import type { CursorKey } from './cursor.ts';
import { badRequest } from './errors.ts';

export type Query = Record<string, string | string[] | undefined>;

const STATUS_SET: ReadonlySet<string> = new Set(ORDER_STATUSES);

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && STATUS_SET.has(value);
}

function single(query: Query, field: string): string | undefined {
  const value = query[field];
  if (Array.isArray(value)) throw badRequest(`${field} must be given once`, field);
  return value;
}

/** `status=A&status=B` or `status=A,B`; undefined when absent. */
export function parseStatuses(query: Query, field = 'status'): Set<OrderStatus> | undefined {
  const raw = query[field];
  if (raw === undefined) return undefined;
  const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim());
  const statuses = new Set<OrderStatus>();
  for (const value of values) {
    if (!isOrderStatus(value)) throw badRequest(`unknown status "${value}"`, field);
    statuses.add(value);
  }
  return statuses;
}

export function parseLimit(query: Query, max: number, fallback: number, field = 'limit'): number {
  const raw = single(query, field);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw badRequest(`${field} must be an integer between 1 and ${max}`, field);
  const n = Number(raw);
  if (n < 1 || n > max) throw badRequest(`${field} must be an integer between 1 and ${max}`, field);
  return n;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2}))?$/;

/** An ISO 8601 date-time with offset (or a bare date = midnight UTC), normalised to toISOString(). */
export function parseDateTime(query: Query, field: string): string | undefined {
  const raw = single(query, field);
  if (raw === undefined) return undefined;
  const ms = DATE_TIME.test(raw) ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(ms)) throw badRequest(`${field} must be an ISO 8601 date-time`, field);
  return new Date(ms).toISOString();
}

export function parseCursor(query: Query, field = 'cursor'): CursorKey | undefined {
  const raw = single(query, field);
  if (raw === undefined || raw === '') return undefined;
  const key = decodeCursor(raw);
  if (!key) throw badRequest('invalid cursor', field);
  return key;
}

export function parseString(query: Query, field: string): string | undefined {
  const raw = single(query, field);
  return raw === '' ? undefined : raw;
}
