// Reads a message from the parking queue (<p>.dead) as a DeadLetter, for ops
// tools and tests. Two kinds land there: those the consumer parked (our
// `x-facet-*` headers carry reason, queue, origin and attempt) and those the
// broker dead-lettered itself when a queue's delivery limit was exceeded
// (`x-first-death-*` / `x-death` headers; reason `broker: delivery_limit`).

import type { Message } from 'amqplib';
import { HEADER, applicationHeaders, attemptOf, stringHeader } from './codec.ts';
import type { Topology } from './topology.ts';
import type { DeadLetter } from './types.ts';

interface XDeath {
  queue?: string;
  reason?: string;
  exchange?: string;
  'routing-keys'?: string[];
}

export function toDeadLetter(topology: Topology, msg: Pick<Message, 'content' | 'properties' | 'fields'>): DeadLetter {
  const h = (msg.properties.headers ?? {}) as Record<string, unknown>;
  const ours = stringHeader(h, HEADER.deadReason);
  const death = (Array.isArray(h['x-death']) ? h['x-death'][0] : undefined) as XDeath | undefined;
  const queue = stringHeader(h, HEADER.deadQueue) ?? stringHeader(h, 'x-first-death-queue') ?? death?.queue ?? msg.fields.routingKey;
  const exchange = stringHeader(h, HEADER.originalExchange) ?? stringHeader(h, 'x-first-death-exchange') ?? death?.exchange ?? '';
  const routingKey = stringHeader(h, HEADER.originalRoutingKey) ?? death?.['routing-keys']?.[0] ?? msg.fields.routingKey;
  const brokerReason = stringHeader(h, 'x-first-death-reason') ?? death?.reason ?? 'unknown';
  const id: unknown = msg.properties.messageId;
  const type: unknown = msg.properties.type;
  return {
    queue: topology.logicalQueue(queue),
    reason: ours ?? `broker: ${brokerReason}`,
    exchange: topology.logicalExchange(exchange),
    routingKey,
    attempt: attemptOf(h),
    id: typeof id === 'string' ? id : undefined,
    type: typeof type === 'string' ? type : undefined,
    raw: msg.content.toString('utf8'),
    headers: applicationHeaders(h),
  };
}
