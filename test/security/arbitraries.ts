// fast-check arbitraries from the specs' JSON Schemas: valid values, their
// boundaries, and hostile values (wrong types, huge, unicode, NUL, ...).

import fc from 'fast-check';
import { isObject, type Json } from './contract.ts';

/** Lone surrogates, NUL, controls, bidi overrides, non-characters, a 4-byte emoji. */
export const NASTY_STRINGS = ['\ud800', 'a\udfffb', '\ud83d', '\u0000', 'ord_\u0000abcdefgh', '\u202e\u202d', '\uffff\ufffe', '💎', '\r\nX-Injected: 1', '%00', '../../etc/passwd', "'; DROP TABLE orders;--", '{{7*7}}${7*7}', '<script>alert(1)</script>'];
export const HUGE_NUMBERS = [1e308, -1e308, 2 ** 53 + 1, 2 ** 64, -(2 ** 63), 1e-320, -0, 0.5, Number.MAX_VALUE];

/** Any value a JSON field should not hold. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(...NASTY_STRINGS, ...HUGE_NUMBERS, null, true, false, [], {}, '', ' '),
  fc.constant('A'.repeat(100_000)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.string(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 5 }),
  fc.constant({ __proto__: { admin: true } }),
  fc.constant(JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') as unknown),
);

function typesOf(schema: Json): string[] {
  if (Array.isArray(schema.type)) return schema.type as string[];
  if (typeof schema.type === 'string') return [schema.type];
  if (isObject(schema.properties)) return ['object'];
  if (isObject(schema.items)) return ['array'];
  return [];
}

const DATE_MIN = new Date('2025-01-01T00:00:00Z');
const DATE_MAX = new Date('2027-12-31T00:00:00Z');

function stringArbitrary(schema: Json): fc.Arbitrary<string> {
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const maxLength = typeof schema.maxLength === 'number' ? Math.min(schema.maxLength, 60) : 30;
  if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= (schema.maxLength as number | undefined ?? Infinity));
  switch (schema.format) {
    case 'date-time':
      return fc.date({ min: DATE_MIN, max: DATE_MAX, noInvalidDate: true }).map((d) => d.toISOString());
    case 'email':
      return fc.emailAddress().filter((e) => e.length <= ((schema.maxLength as number | undefined) ?? 254));
    case 'uri':
    case 'uri-reference':
      return fc.webUrl({ validSchemes: ['https'] });
  }
  return fc.string({ minLength, maxLength: Math.max(minLength, maxLength), unit: 'grapheme-ascii' }).filter((s) => s.trim().length >= Math.min(minLength, 1) || minLength === 0);
}

/** Values the schema accepts. */
export function valid(schema: Json): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const alternatives = (schema.oneOf ?? schema.anyOf) as Json[] | undefined;
  if (Array.isArray(alternatives)) return fc.oneof(...alternatives.map((s) => valid(s)));
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((type) => valid({ ...schema, type })));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: typeof schema.minimum === 'number' ? schema.minimum : -1000, max: typeof schema.maximum === 'number' ? schema.maximum : 1_000_000 });
    case 'number':
      return fc.double({ min: typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 0.001 : 0, max: typeof schema.maximum === 'number' ? schema.maximum : 1e6, noNaN: true });
    case 'string':
      return stringArbitrary(schema);
    case 'array': {
      const items = isObject(schema.items) ? valid(schema.items) : fc.string();
      const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const maxLength = Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 5, 5);
      return fc.array(items, { minLength, maxLength: Math.max(minLength, maxLength) });
    }
    case 'object': {
      const properties = (schema.properties as Record<string, Json> | undefined) ?? {};
      const required = (schema.required as string[] | undefined) ?? [];
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, prop] of Object.entries(properties)) record[name] = valid(prop);
      return fc.record(record, { requiredKeys: required.filter((r) => r in record) });
    }
  }
  return fc.constant('x');
}

/** Values just inside and just outside the schema's bounds. */
export function boundaries(schema: Json): unknown[] {
  const out: unknown[] = [];
  const types = typesOf(schema);
  if (types.includes('integer') || types.includes('number')) {
    for (const key of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) {
      const n = schema[key];
      if (typeof n === 'number') out.push(n - 1, n, n + 1, n - 0.5, String(n));
    }
    out.push(0, -1, 1.5, '1', 'NaN', 'Infinity');
  }
  if (types.includes('string')) {
    const min = typeof schema.minLength === 'number' ? schema.minLength : undefined;
    const max = typeof schema.maxLength === 'number' ? schema.maxLength : undefined;
    if (min !== undefined) out.push('x'.repeat(min), 'x'.repeat(Math.max(0, min - 1)));
    if (max !== undefined) out.push('x'.repeat(max), 'x'.repeat(max + 1), '💎'.repeat(max));
    if (Array.isArray(schema.enum)) out.push(...(schema.enum as unknown[]).map((e) => String(e).toLowerCase()), '');
    if (typeof schema.pattern === 'string') out.push('', ' ', 'x'.repeat(513));
    if (schema.format === 'date-time') out.push('2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2026-10-01', '2026-10-01T00:00:00+25:00');
  }
  if (types.includes('array')) {
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : 5;
    out.push([], Array.from({ length: max + 1 }, () => (isObject(schema.items) && Array.isArray(schema.items.enum) ? schema.items.enum[0] : 'x')));
  }
  if (types.includes('object')) out.push({}, []);
  return out;
}

/** Every leaf path of a JSON value, for targeted mutations. */
export function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...paths(item, [...prefix, i])));
  else if (isObject(value)) for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  return out;
}

/** A copy of `value` with the node at `path` replaced (or deleted when `replacement` is the DELETE symbol). */
export const DELETE = Symbol('delete');
export function replaceAt(value: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value];
    if (replacement === DELETE && rest.length === 0) copy.splice(head as number, 1);
    else copy[head as number] = replaceAt(value[head as number], rest, replacement);
    return copy;
  }
  if (isObject(value)) {
    const copy: Json = { ...value };
    if (replacement === DELETE && rest.length === 0) delete copy[head as string];
    else copy[head as string] = replaceAt(value[head as string], rest, replacement);
    return copy;
  }
  return value;
}

/** The sub-schema at a value path, for boundary values of that field. */
export function schemaAt(schema: Json, path: (string | number)[]): Json | undefined {
  let at: Json | undefined = schema;
  for (const step of path) {
    if (!at) return undefined;
    const alternatives = (at.oneOf ?? at.anyOf) as Json[] | undefined;
    if (Array.isArray(alternatives)) at = alternatives.find((a) => isObject(a.properties) || isObject(a.items)) ?? alternatives[0];
    if (!at) return undefined;
    at = typeof step === 'number' ? (isObject(at.items) ? at.items : undefined) : ((at.properties as Record<string, Json> | undefined)?.[step] ?? undefined);
  }
  return at;
}
