// Requests the gateway sends through its own routes (refresh-ahead keeping
// the dashboard's first pages warm) are authenticated by where they come
// from, not by a credential: the gateway's inject() runs them inside this
// async context, which no request from a socket can enter. Authentication
// policies take such a request as this internal operator.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Operator } from './request-state.ts';

const context = new AsyncLocalStorage<Operator>();

/** Runs `send` (an in-process inject) as the internal operator `subject`. */
export function asInternalCaller<T>(subject: string, send: () => T): T {
  return context.run({ subject, role: 'system' }, send);
}

/** The internal operator whose in-process request is running, if any. */
export function internalCaller(): Operator | undefined {
  return context.getStore();
}
