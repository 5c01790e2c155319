// The MES adapter's consumer: queue `mes.legacy-events` on `events` /
// `mes.legacy.*`. Stateless: parse, translate, publish (confirmed), ack.
// A malformed or unknown event is parked with its reason; a failed publish
// is retried by the bus (the translation is the same every time).

import type { Bus, ConsumerSpec, Delivery, HandlerResult, Subscription } from '../../platform/bus/types.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { InvalidMessageError } from '../shared/guards.ts';
import type { AdapterLogger } from '../shared/logger.ts';
import { parseLegacyEvent } from './legacy.ts';
import { translateLegacyEvent } from './translate.ts';

export const MES_EVENTS_QUEUE = 'mes.legacy-events';

export interface MesTranslatorOptions {
  prefetch?: number;
  maxAttempts?: number;
  retryDelaysMs?: number[];
}

export function mesTranslatorHandler(bus: Bus, logger: AdapterLogger): (delivery: Delivery) => Promise<HandlerResult> {
  return async ({ message, routingKey }) => {
    let translated;
    try {
      translated = translateLegacyEvent(parseLegacyEvent(routingKey, message.body));
    } catch (err) {
      if (err instanceof InvalidMessageError) return { dead: err.message };
      throw err;
    }
    await bus.publish('events', translated.routingKey, { ...translated.message, headers: message.headers ?? {} });
    logger.debug({ from: message.id, to: translated.message.id }, 'MES event translated');
    return 'ack';
  };
}

export function startMesTranslator(bus: Bus, logger: AdapterLogger, options: MesTranslatorOptions = {}): Promise<Subscription> {
  const spec: ConsumerSpec = {
    queue: MES_EVENTS_QUEUE,
    bindings: [{ exchange: 'events', pattern: ROUTING.mesLegacy }],
    prefetch: options.prefetch ?? 32,
    ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
    ...(options.retryDelaysMs !== undefined && { retryDelaysMs: options.retryDelaysMs }),
  };
  return bus.consume(spec, mesTranslatorHandler(bus, logger));
}
