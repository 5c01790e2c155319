// What an upstream promises to answer, checked before the gateway uses it.
// Each upstream operation the gateway calls has a JSON Schema per 2xx status,
// compiled once when this module loads (start-up), never per request. An
// answer that breaks it becomes an UpstreamContractError: counted by the
// breaker, not retried, a 502 for the client (failures.ts), with the
// validation errors in the log and none of the upstream's words in the
// answer. The CRM and MES operations and their schemas are in
// contracts/upstream-answers.ts, compiled by operations.ts.
//
// Extra fields are allowed (a tolerant reader: the CRM or MES may add fields
// without breaking the gateway) and never reach a client: handlers build the
// public shape field by field, and a relayed answer (pass-through) is
// compiled with `strip`, which removes every field its schema does not name.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { AnswerContract } from '../../contracts/upstream-answers.ts';

/** No coercion, no defaults: an answer is checked as it came. */
const OPTIONS = { strict: true, allowUnionTypes: true, allErrors: false, coerceTypes: false, useDefaults: false } as const;

const tolerant = new Ajv({ ...OPTIONS, removeAdditional: false });
const stripping = new Ajv({ ...OPTIONS, removeAdditional: 'all' });
// RFC 3339's shape (ajv-formats' fast mode: the pattern; full mode's calendar check costs ~0.5 µs a field).
for (const ajv of [tolerant, stripping]) ajvFormats.default(ajv, { mode: 'fast', formats: ['date-time'] });

/** A 2xx answer that does not keep the upstream's contract: not JSON, too large, or the wrong shape. */
export class UpstreamContractError extends Error {
  readonly upstream: string;
  /** The upstream operation, e.g. `GET /crm/orders/{id}` (logs only). */
  readonly operation: string;
  readonly status: number;
  /** What the client is told, in general terms: names the upstream, quotes nothing of its answer. */
  readonly detail: string;
  /** Where the answer broke the contract (ajv's instance paths and messages), for the log. */
  readonly problems: readonly string[];
  /** Whose record the broken answer says it is (the operation's `owner` field, when it is a string): a caller can answer someone else's as missing. */
  readonly owner: string | undefined;

  constructor(upstream: string, operation: string, status: number, detail: string, problems: readonly string[], owner?: string) {
    super(`${upstream} ${operation} answered ${status} outside its contract: ${problems.join('; ')}`);
    this.name = 'UpstreamContractError';
    this.upstream = upstream;
    this.operation = operation;
    this.status = status;
    this.detail = detail;
    this.problems = problems;
    this.owner = owner;
  }
}

export function isUpstreamContractError(error: unknown): error is UpstreamContractError {
  return error instanceof UpstreamContractError;
}

export interface UpstreamOperation<T> {
  /** `GET /crm/orders/{id}`. */
  readonly name: string;
  /** What the answer is, for the client's detail: `an order`, `the catalogue`. */
  readonly what: string;
  /**
   * Returns a 2xx `body` typed, or throws UpstreamContractError when the
   * operation does not document that status or the body does not match its
   * schema. Other statuses are returned unchecked: handlers read only their
   * status (and must not read their body as T).
   */
  check(upstream: string, status: number, body: unknown): T;
}

function ownerOf(body: unknown, field: string | undefined): string | undefined {
  if (field === undefined || typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

/** `/items/3/status must be equal to one of the allowed values` (no data: ajv's `verbose` is off). */
function describe(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

/** Compiles an operation's schemas (at start-up: never per request). */
export function upstreamOperation<T>(definition: AnswerContract<T>): UpstreamOperation<T> {
  const ajv = definition.strip ? stripping : tolerant;
  const validators = new Map<number, ValidateFunction>();
  for (const [status, schema] of Object.entries(definition.responses)) {
    const code = Number(status);
    if (!(code >= 200 && code < 300)) throw new RangeError(`${definition.name}: only 2xx answers have a contract, got ${status}`);
    validators.set(code, ajv.compile(schema));
  }
  const { name, what } = definition;
  return {
    name,
    what,
    check(upstream, status, body) {
      if (status < 200 || status >= 300) return body as T;
      const validate = validators.get(status);
      if (!validate) throw new UpstreamContractError(upstream, name, status, `${upstream} answered with a status its contract does not document`, [`status ${status} is not documented`]);
      if (!validate(body)) throw new UpstreamContractError(upstream, name, status, `${upstream} sent ${what} that does not match its contract`, describe(validate.errors), ownerOf(body, definition.owner));
      return body as T;
    },
  };
}
