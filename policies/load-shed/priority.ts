// Which priority class a request belongs to. Under load the lowest class is
// shed first: critical (operators, internal calls) → write → paid-read →
// free-read. Runs after key-auth / jwt-auth, which set the caller.

import type { PlanConfig } from '../../platform/pipeline/config.ts';
import type { PriorityClass } from './settings.ts';
import type { Consumer } from '../../platform/pipeline/consumers.ts';
import { kConsumer, kOperator, type Operator } from '../../platform/pipeline/request-state.ts';

/** What priorityOf reads from a request (a FastifyRequest has all of it). */
export interface PrioritySubject {
  method: string;
  [kConsumer]?: Consumer | undefined;
  [kOperator]?: Operator | undefined;
}

export function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/**
 * `critical` for an operator (jwt-auth ran) or a call with no seller behind it
 * (internal); `write` for a seller's unsafe method; otherwise the seller's
 * plan tier decides between `paid-read` and `free-read`. A plan missing from
 * the config (cannot happen after validation) counts as free.
 */
export function priorityOf(request: PrioritySubject, plans: Readonly<Record<string, PlanConfig>>): PriorityClass {
  const consumer = request[kConsumer];
  if (request[kOperator] !== undefined || consumer === undefined) return 'critical';
  if (!isRead(request.method)) return 'write';
  return plans[consumer.plan]?.tier === 'paid' ? 'paid-read' : 'free-read';
}
