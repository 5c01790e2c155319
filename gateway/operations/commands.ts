// Handing a command to the broker from an HTTP operation: only the broker's
// confirm counts. A bus that cannot take it (down, a missing confirm, a
// nack, or unroutable: no consumer's queue bound, an operations fault, not
// the client's) is a 503 with Retry-After, and the caller undoes what it
// recorded; the error handler logs the cause.

import type { Bus } from '../../platform/bus/index.ts';
import { isBusError } from '../../platform/bus/index.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';

const RETRY_AFTER_SEC = '5';

export async function publishCommand(bus: Bus, routingKey: string, message: { id: string; body: unknown }, detail: string): Promise<void> {
  try {
    await bus.publish('commands', routingKey, { id: message.id, type: routingKey, body: message.body });
  } catch (error) {
    if (isBusError(error)) throw new FacetError('FACET_ERR_BUS_UNAVAILABLE', { detail, headers: { 'retry-after': RETRY_AFTER_SEC }, cause: error });
    throw error;
  }
}
