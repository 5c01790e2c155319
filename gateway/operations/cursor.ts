// Opaque keyset cursors: base64url of {"t": created_at, "i": id} of the last
// item of a page. Decoded here so a bad cursor is a 400 naming the field,
// not an upstream error.

import { FacetError } from '../../platform/errors/facet-error.ts';

const ID = /^[a-z]{2,4}_[0-9a-z]{6,32}$/;

export interface Cursor {
  t: string;
  i: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodeCursor(text: string, field = 'query.cursor'): Cursor {
  const invalid = () => new FacetError('FACET_ERR_VALIDATION', { detail: `${field} is not a cursor this API issued`, errors: [{ field, message: 'is not a valid cursor' }] });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const c = value as Partial<Cursor> | null;
  if (!c || typeof c !== 'object' || typeof c.t !== 'string' || typeof c.i !== 'string') throw invalid();
  if (!ID.test(c.i) || Number.isNaN(Date.parse(c.t)) || Object.keys(c).length !== 2) throw invalid();
  return { t: c.t, i: c.i };
}
