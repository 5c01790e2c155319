// Express Gateway's conditions: a step of a policy runs only when its
// condition holds for the request. Compiled once to a plain predicate.

import type { ConditionConfig } from './config.ts';

export interface ConditionInput {
  method: string;
  /** Path without the query string. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export type Condition = (request: ConditionInput) => boolean;

export const ALWAYS: Condition = () => true;

type Check = (condition: ConditionConfig, path: string, errors: string[]) => void;

function stringField(condition: ConditionConfig, field: string, path: string, errors: string[]): void {
  if (typeof condition[field] !== 'string' || condition[field] === '') errors.push(`${path}.${field}: must be a non-empty string`);
}

function regexField(condition: ConditionConfig, field: string, path: string, errors: string[]): void {
  stringField(condition, field, path, errors);
  if (typeof condition[field] !== 'string') return;
  try {
    new RegExp(condition[field]);
  } catch {
    errors.push(`${path}.${field}: must be a valid regular expression`);
  }
}

function listField(condition: ConditionConfig, field: string, path: string, errors: string[]): void {
  const list = condition[field];
  if (!Array.isArray(list) || list.length === 0) {
    errors.push(`${path}.${field}: must be a non-empty array of conditions`);
    return;
  }
  list.forEach((item, i) => validateCondition(item, `${path}.${field}[${i}]`, errors));
}

const CHECKS: Record<string, { fields: string[]; check: Check }> = {
  always: { fields: [], check: () => {} },
  never: { fields: [], check: () => {} },
  allOf: { fields: ['conditions'], check: (c, p, e) => listField(c, 'conditions', p, e) },
  anyOf: { fields: ['conditions'], check: (c, p, e) => listField(c, 'conditions', p, e) },
  not: { fields: ['condition'], check: (c, p, e) => validateCondition(c.condition, `${p}.condition`, e) },
  pathExact: { fields: ['path'], check: (c, p, e) => stringField(c, 'path', p, e) },
  pathMatch: { fields: ['pattern'], check: (c, p, e) => regexField(c, 'pattern', p, e) },
  method: {
    fields: ['methods'],
    check: (c, p, e) => {
      const m = c.methods;
      if (!Array.isArray(m) || m.length === 0 || !m.every((x) => typeof x === 'string')) e.push(`${p}.methods: must be a non-empty array of HTTP methods`);
    },
  },
  header: {
    fields: ['header', 'pattern'],
    check: (c, p, e) => {
      stringField(c, 'header', p, e);
      if (c.pattern !== undefined) regexField(c, 'pattern', p, e);
    },
  },
};

/** Appends one message per problem, each naming its path in the file. */
export function validateCondition(value: unknown, path: string, errors: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(`${path}: must be an object with a "name"`);
    return;
  }
  const condition = value as ConditionConfig;
  const spec = typeof condition.name === 'string' ? CHECKS[condition.name] : undefined;
  if (!spec) {
    errors.push(`${path}.name: must be one of ${Object.keys(CHECKS).join(', ')}`);
    return;
  }
  for (const key of Object.keys(condition)) {
    if (key !== 'name' && !spec.fields.includes(key)) errors.push(`${path}.${key}: is not allowed for condition "${condition.name}"`);
  }
  spec.check(condition, path, errors);
}

/** Compiles a validated condition. */
export function compileCondition(condition: ConditionConfig | undefined): Condition {
  if (!condition) return ALWAYS;
  switch (condition.name) {
    case 'always':
      return ALWAYS;
    case 'never':
      return () => false;
    case 'allOf': {
      const parts = (condition.conditions as ConditionConfig[]).map(compileCondition);
      return (r) => parts.every((p) => p(r));
    }
    case 'anyOf': {
      const parts = (condition.conditions as ConditionConfig[]).map(compileCondition);
      return (r) => parts.some((p) => p(r));
    }
    case 'not': {
      const inner = compileCondition(condition.condition as ConditionConfig);
      return (r) => !inner(r);
    }
    case 'pathExact': {
      const path = condition.path as string;
      return (r) => r.path === path;
    }
    case 'pathMatch': {
      const re = new RegExp(condition.pattern as string);
      return (r) => re.test(r.path);
    }
    case 'method': {
      const methods = new Set((condition.methods as string[]).map((m) => m.toUpperCase()));
      return (r) => methods.has(r.method);
    }
    case 'header': {
      const header = (condition.header as string).toLowerCase();
      const re = typeof condition.pattern === 'string' ? new RegExp(condition.pattern) : undefined;
      return (r) => {
        const value = r.headers[header];
        if (value === undefined) return false;
        return re ? re.test(Array.isArray(value) ? value.join(',') : value) : true;
      };
    }
    default:
      throw new Error(`unknown condition ${condition.name}`);
  }
}
