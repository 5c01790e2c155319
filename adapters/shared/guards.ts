// Small shape checks for message bodies. A body that fails them is poison:
// the handler parks it ({ dead: reason }) instead of retrying it forever.

export type Fields = Record<string, unknown>;

export class InvalidMessageError extends Error {
  constructor(what: string, why: string) {
    super(`invalid ${what}: ${why}`);
    this.name = 'InvalidMessageError';
  }
}

export function checker(what: string): {
  object(value: unknown, path?: string): Fields;
  string(o: Fields, key: string): string;
  stringOrNull(o: Fields, key: string): string | null;
  objectOrNull(o: Fields, key: string): Fields | null;
  oneOf<T extends string>(o: Fields, key: string, allowed: readonly T[]): T;
} {
  const fail = (why: string): never => {
    throw new InvalidMessageError(what, why);
  };
  const object = (value: unknown, path = 'body'): Fields =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : fail(`${path} must be an object`);
  return {
    object,
    string: (o, key) => (typeof o[key] === 'string' && o[key] !== '' ? o[key] : fail(`${key} must be a non-empty string`)),
    stringOrNull: (o, key) => (o[key] === null || o[key] === undefined ? null : typeof o[key] === 'string' ? o[key] : fail(`${key} must be a string or null`)),
    objectOrNull: (o, key) => (o[key] === null || o[key] === undefined ? null : object(o[key], key)),
    oneOf: (o, key, allowed) => {
      const v = o[key];
      return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as (typeof allowed)[number]) : fail(`${key} must be one of ${allowed.join(', ')}`);
    },
  };
}
