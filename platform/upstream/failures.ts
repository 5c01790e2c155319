// What went wrong with an upstream call, decided once: whether the circuit
// breaker counts it, whether a read may be retried, and which problem+json
// (and metrics outcome) the client gets. No upstream body is ever carried.

import { isBrokenCircuitError, isBulkheadRejectedError, isIsolatedCircuitError, isTaskCancelledError } from 'cockatiel';
import { FacetError } from '../errors/facet-error.ts';
import { UpstreamContractError } from './contract.ts';

/** How long a client should wait before retrying after an upstream outage. */
export const UPSTREAM_RETRY_AFTER_SECONDS = 5;
/** A full bulkhead frees up quickly: retry soon. */
export const SATURATED_RETRY_AFTER_SECONDS = 1;

/** The upstream answered 5xx. Thrown inside the executed function so the breaker sees it. */
export class UpstreamStatusError extends Error {
  readonly status: number;
  constructor(upstream: string, status: number) {
    super(`${upstream} answered ${status}`);
    this.name = 'UpstreamStatusError';
    this.status = status;
  }
}

/** The caller gave up (client went away): not the upstream's fault, never counted. */
export class CallerCancelledError extends Error {
  constructor(upstream: string) {
    super(`call to ${upstream} cancelled by the caller`);
    this.name = 'CallerCancelledError';
  }
}

/**
 * The client's side of an upload failed: it sent nothing for too long
 * (`idle`, also an upload past its longest duration), or went away or broke
 * its body (`closed`). Not the upstream's fault: never counted by the breaker.
 */
export class ClientBodyError extends Error {
  readonly kind: 'idle' | 'closed';
  constructor(kind: 'idle' | 'closed', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClientBodyError';
    this.kind = kind;
  }
}

/** Retrying these might help: the upstream is restarting or a proxy in front of it is. */
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

/** undici errors that are bugs or shutdown on our side, not a sick upstream. */
const LOCAL_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_ABORTED', 'UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'FST_REPLY_FROM_TIMEOUT',
  'FST_REPLY_FROM_GATEWAY_TIMEOUT',
  'FST_REPLY_FROM_HTTP_REQUEST_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A transport failure: refused, reset, socket closed, DNS, connect/headers/body
 * timeout. Node's and undici's network errors carry a string `code`
 * (ECONNREFUSED, UND_ERR_SOCKET, ...), as do reply-from's; a JSON SyntaxError
 * or a programming error does not.
 */
export function isTransportFailure(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && !LOCAL_CODES.has(code);
}

function isTimeout(error: unknown): boolean {
  if (isTaskCancelledError(error)) return true; // cockatiel's timeout (a caller's cancel is a CallerCancelledError by then)
  const code = codeOf(error);
  return (code !== undefined && TIMEOUT_CODES.has(code)) || (error as { name?: string } | null)?.name === 'TimeoutError';
}

/**
 * What the breaker counts: connection errors, timeouts, 5xx, and answers that
 * break the upstream's contract (not JSON, wrong shape). A 4xx is a healthy upstream.
 */
export function isUpstreamFailure(error: unknown): boolean {
  if (error instanceof UpstreamStatusError) return error.status >= 500;
  if (error instanceof UpstreamContractError) return true;
  if (error instanceof CallerCancelledError || error instanceof ClientBodyError) return false;
  return isTaskCancelledError(error) || isTransportFailure(error);
}

/**
 * What a read may retry: connection errors and resets, timeouts, 502/503/504.
 * Not a 500 nor an answer outside the contract (the upstream decided), and
 * never an open circuit or a full bulkhead (cockatiel issue #107: retrying
 * those only hammers the breaker).
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof UpstreamStatusError) return RETRYABLE_STATUSES.has(error.status);
  if (error instanceof UpstreamContractError) return false;
  return isUpstreamFailure(error);
}

export type UpstreamOutcome = 'ok' | 'client_error' | 'server_error' | 'contract_violation' | 'timeout' | 'unavailable' | 'circuit_open' | 'saturated' | 'cancelled';

export function outcomeOfStatus(status: number): UpstreamOutcome {
  if (status >= 500) return 'server_error';
  return status >= 400 ? 'client_error' : 'ok';
}

export interface Classified {
  problem: FacetError;
  outcome: UpstreamOutcome;
}

/**
 * The client's answer for a failed call. `circuitRetryAfter` is the seconds
 * until the breaker lets a trial call through; `callerSignal` tells a
 * caller's cancel from a timeout (cockatiel throws TaskCancelledError for both).
 */
export function classify(upstream: string, error: unknown, circuitRetryAfter: () => number, callerSignal?: AbortSignal): Classified {
  if (error instanceof FacetError) return { problem: error, outcome: error.statusCode >= 500 ? 'server_error' : 'client_error' };
  if (isBrokenCircuitError(error) || isIsolatedCircuitError(error)) {
    return {
      outcome: 'circuit_open',
      problem: new FacetError('FACET_ERR_UPSTREAM_CIRCUIT_OPEN', {
        detail: `${upstream} is failing; calls to it are suspended for now`,
        headers: { 'retry-after': String(Math.max(1, circuitRetryAfter())) },
        cause: error,
      }),
    };
  }
  if (isBulkheadRejectedError(error)) {
    return {
      outcome: 'saturated',
      problem: new FacetError('FACET_ERR_UPSTREAM_SATURATED', {
        detail: `Too many calls to ${upstream} in progress`,
        headers: { 'retry-after': String(SATURATED_RETRY_AFTER_SECONDS) },
        cause: error,
      }),
    };
  }
  if (error instanceof ClientBodyError) {
    if (error.kind === 'closed') return { outcome: 'cancelled', problem: new FacetError('FACET_ERR_CLIENT_CLOSED', { detail: error.message, cause: error }) };
    // The rest of the body will not be read: the connection cannot serve another request.
    return { outcome: 'cancelled', problem: new FacetError('FACET_ERR_UPLOAD_IDLE', { detail: error.message, headers: { connection: 'close' }, cause: error }) };
  }
  if (error instanceof CallerCancelledError || (isTaskCancelledError(error) && callerSignal?.aborted)) {
    return {
      outcome: 'cancelled',
      problem: new FacetError('FACET_ERR_UPSTREAM_UNAVAILABLE', { detail: `The call to ${upstream} was cancelled`, cause: error }),
    };
  }
  if (error instanceof UpstreamStatusError) {
    return { outcome: 'server_error', problem: new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: error.message, cause: error }) };
  }
  if (error instanceof UpstreamContractError) {
    return { outcome: 'contract_violation', problem: new FacetError('FACET_ERR_UPSTREAM_BAD_RESPONSE', { detail: error.detail, cause: error }) };
  }
  if (isTimeout(error)) {
    return { outcome: 'timeout', problem: new FacetError('FACET_ERR_UPSTREAM_TIMEOUT', { detail: `${upstream} did not answer in time`, cause: error }) };
  }
  return {
    outcome: 'unavailable',
    problem: new FacetError('FACET_ERR_UPSTREAM_UNAVAILABLE', {
      detail: `${upstream} is unavailable`,
      headers: { 'retry-after': String(UPSTREAM_RETRY_AFTER_SECONDS) },
      cause: error,
    }),
  };
}
