// Why a publish was not confirmed. Each error carries a stable code and a
// brand, so the guards also work across duplicated module instances. The
// gateway maps them: unavailable / timeout → 503 + Retry-After; unroutable →
// 500 (a routing key no queue is bound to is a deployment bug).

const BRAND = Symbol.for('facet.bus.error');

export type BusErrorCode = 'FACET_ERR_BUS_UNAVAILABLE' | 'FACET_ERR_BUS_UNROUTABLE' | 'FACET_ERR_BUS_TIMEOUT';

export abstract class BusError extends Error {
  abstract readonly code: BusErrorCode;
  readonly [BRAND] = true;
}

/** Not connected, channel lost, broker blocked or nacked: nothing confirmed. */
export class BusUnavailableError extends BusError {
  readonly code = 'FACET_ERR_BUS_UNAVAILABLE';
  constructor(message = 'message bus unavailable', options?: ErrorOptions) {
    super(message, options);
    this.name = 'BusUnavailableError';
  }
}

/** The broker confirmed the message but no queue was bound to its routing key. */
export class BusUnroutableError extends BusError {
  readonly code = 'FACET_ERR_BUS_UNROUTABLE';
  readonly exchange: string;
  readonly routingKey: string;
  constructor(exchange: string, routingKey: string, detail = 'NO_ROUTE') {
    super(`no queue bound for ${exchange} / ${routingKey} (${detail})`);
    this.name = 'BusUnroutableError';
    this.exchange = exchange;
    this.routingKey = routingKey;
  }
}

/**
 * No confirm for a message that was written: it timed out, or the channel
 * closed before the broker answered. The outcome is unknown (the broker may
 * still deliver it): callers must not report "nothing was recorded".
 */
export class BusTimeoutError extends BusError {
  readonly code = 'FACET_ERR_BUS_TIMEOUT';
  readonly timeoutMs: number;
  constructor(timeoutMs: number, message = `no broker confirm within ${timeoutMs} ms`) {
    super(message);
    this.name = 'BusTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

function hasCode(err: unknown, code: BusErrorCode): boolean {
  return typeof err === 'object' && err !== null && BRAND in err && (err as { code?: unknown }).code === code;
}

export function isBusError(err: unknown): err is BusError {
  return typeof err === 'object' && err !== null && BRAND in err;
}
export function isBusUnavailable(err: unknown): err is BusUnavailableError {
  return hasCode(err, 'FACET_ERR_BUS_UNAVAILABLE');
}
export function isBusUnroutable(err: unknown): err is BusUnroutableError {
  return hasCode(err, 'FACET_ERR_BUS_UNROUTABLE');
}
export function isBusTimeout(err: unknown): err is BusTimeoutError {
  return hasCode(err, 'FACET_ERR_BUS_TIMEOUT');
}
