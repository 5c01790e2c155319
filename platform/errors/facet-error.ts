import { PROBLEMS, UPSTREAM_FAILURES, type ProblemCode } from './catalogue.ts';

export interface FieldError {
  field: string;
  message: string;
}

export interface FacetErrorOptions {
  detail?: string;
  errors?: FieldError[];
  /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error that knows its problem+json answer. Anything else is a 500. */
export class FacetError extends Error {
  readonly code: ProblemCode;
  readonly statusCode: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ProblemCode, options: FacetErrorOptions = {}) {
    super(options.detail ?? PROBLEMS[code].title, { cause: options.cause });
    this.name = 'FacetError';
    this.code = code;
    this.statusCode = PROBLEMS[code].status;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export function isFacetError(error: unknown): error is FacetError {
  return error instanceof FacetError;
}

/** A FacetError saying an upstream call failed (catalogue.ts: UPSTREAM_FAILURES). */
export function isUpstreamFailure(error: unknown): error is FacetError {
  return isFacetError(error) && UPSTREAM_FAILURES.has(error.code);
}
