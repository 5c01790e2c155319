// Handing a command to the broker from an HTTP operation: only the broker's
// confirm counts. A bus that refused it (down, a nack, or unroutable: no
// consumer's queue bound, an operations fault, not the client's) is a 503
// FACET_ERR_BUS_UNAVAILABLE with Retry-After: nothing was sent, the caller
// undoes what it recorded. A confirm that never came (timed out, or the
// channel closed after the message was written) is not "nothing happened":
// the broker may still deliver it, so it is a 503 FACET_ERR_OUTCOME_UNKNOWN,
// and a retry with the same message id is safe. The error handler logs the cause.

import type { Bus } from '../../platform/bus/index.ts';
import { isBusError, isBusTimeout } from '../../platform/bus/index.ts';
import { FacetError } from '../../platform/errors/facet-error.ts';

const RETRY_AFTER_SEC = '5';

const UNKNOWN_DETAIL = 'The broker did not confirm in time: the request may still take effect. Retrying it is safe.';

export async function publishCommand(bus: Bus, routingKey: string, message: { id: string; body: unknown }, detail: string, unknownDetail = UNKNOWN_DETAIL): Promise<void> {
  try {
    await bus.publish('commands', routingKey, { id: message.id, type: routingKey, body: message.body });
  } catch (error) {
    if (isBusTimeout(error)) throw new FacetError('FACET_ERR_OUTCOME_UNKNOWN', { detail: unknownDetail, headers: { 'retry-after': RETRY_AFTER_SEC }, cause: error });
    if (isBusError(error)) throw new FacetError('FACET_ERR_BUS_UNAVAILABLE', { detail, headers: { 'retry-after': RETRY_AFTER_SEC }, cause: error });
    throw error;
  }
}
