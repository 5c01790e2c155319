// Keyset pagination over lists sorted newest first (created_at desc, id desc).
// Cursor = base64url(JSON {"t": created_at, "i": id}) of the last item returned;
// the next page holds the items strictly after it in that order.

export interface CursorKey {
  t: string;
  i: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify({ t: key.t, i: key.i }), 'utf8').toString('base64url');
}

/** The key in a cursor, or null when the cursor is not one of ours. */
export function decodeCursor(cursor: string): CursorKey | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object') return null;
  const { t, i } = parsed as Record<string, unknown>;
  if (typeof t !== 'string' || typeof i !== 'string') return null;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) return null;
  return { t: new Date(ms).toISOString(), i };
}

/** Sort position of (t, i) against (t2, i2), newest first: < 0 when (t, i) comes first. */
function compareKeys(t: string, i: string, t2: string, i2: string): number {
  if (t !== t2) return t < t2 ? 1 : -1;
  if (i === i2) return 0;
  return i < i2 ? 1 : -1;
}

export interface PageQuery<T> {
  /** Return only items strictly after this key. */
  after?: CursorKey | undefined;
  /** Inclusive lower bound on created_at (ISO, same format as the data). */
  createdFrom?: string | undefined;
  /** Exclusive upper bound on created_at. */
  createdTo?: string | undefined;
  match?: ((item: T) => boolean) | undefined;
  limit: number;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/**
 * One page of `list` (sorted newest first). Binary search finds where the page
 * starts (after the cursor and below created_to); the scan stops at created_from
 * or once one item past the page proves there is a next page.
 */
export function paginate<T>(list: readonly T[], keyOf: (item: T) => CursorKey, query: PageQuery<T>): Page<T> {
  let start = 0;
  const { after, createdTo, createdFrom, match, limit } = query;
  if (after) start = lowerBound(list, (item) => {
    const k = keyOf(item);
    return compareKeys(k.t, k.i, after.t, after.i) <= 0;
  });
  if (createdTo !== undefined) start = Math.max(start, lowerBound(list, (item) => keyOf(item).t >= createdTo));
  const items: T[] = [];
  let more = false;
  for (let index = start; index < list.length; index++) {
    const item = list[index] as T;
    if (createdFrom !== undefined && keyOf(item).t < createdFrom) break;
    if (match && !match(item)) continue;
    if (items.length === limit) {
      more = true;
      break;
    }
    items.push(item);
  }
  const last = items.at(-1);
  return { items, next_cursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** First index whose item does not satisfy `before` (which must hold for a prefix of the list). */
export function lowerBound<T>(list: readonly T[], before: (item: T) => boolean): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid] as T)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `item` into a newest-first list, keeping it sorted. */
export function insertNewestFirst<T>(list: T[], item: T, keyOf: (item: T) => CursorKey): void {
  const key = keyOf(item);
  const index = lowerBound(list, (other) => {
    const k = keyOf(other);
    return compareKeys(k.t, k.i, key.t, key.i) < 0;
  });
  list.splice(index, 0, item);
}
