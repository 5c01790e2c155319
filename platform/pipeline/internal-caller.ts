// Requests the gateway sends through its own routes (refresh-ahead keeping
// the dashboard's first pages warm) are authenticated by where they come
// from, not by a credential: the gateway's inject() runs them inside this
// async context, which no request from a socket can enter. Authentication
// policies take such a request as this internal operator.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Operator } from './request-state.ts';

const context = new AsyncLocalStorage<Operator>();
const internalOperators = new WeakSet<Operator>();

/** Runs `send` (an in-process inject) as the internal operator `subject`. */
export function asInternalCaller<T>(subject: string, send: () => T): T {
  const operator: Operator = Object.freeze({ subject, role: 'system' });
  internalOperators.add(operator);
  return context.run(operator, send);
}

/** Whether a request's operator is the gateway itself (its requests are not clients' traffic: no RED metrics, no request log line). */
export function isInternalOperator(operator: Operator | undefined): boolean {
  return operator !== undefined && internalOperators.has(operator);
}

/** The internal operator whose in-process request is running, if any. */
export function internalCaller(): Operator | undefined {
  return context.getStore();
}
