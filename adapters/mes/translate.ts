// Legacy MES event → canonical message. Pure: the same legacy event always
// gives the same message, id included, so a redelivered legacy event yields
// a duplicate the saga recognises.
//
//   mes.legacy.PriceJobCompleted          → quote.ready              id quote.ready:<job_id>
//   mes.legacy.PriceJobFailed             → quote.failed             id quote.failed:<job_id>
//   mes.legacy.ManufacturingStatusChanged → mes.manufacturing_changed id mes.manufacturing_changed:<order_id>:<status>

import type { BusMessage } from '../../platform/bus/types.ts';
import { ROUTING, type QuoteFinishedEvent } from '../../contracts/messages.ts';
import type { LegacyMesEvent } from './legacy.ts';
import { MES_MANUFACTURING_CHANGED, type MesManufacturingChangedEvent } from './messages.ts';

export interface Translated {
  routingKey: string;
  message: BusMessage;
}

export function translateLegacyEvent(event: LegacyMesEvent): Translated {
  if (event.type === 'ManufacturingStatusChanged') {
    const body: MesManufacturingChangedEvent = {
      order_id: event.order_id,
      model_id: event.model_id,
      status: event.status,
      previous_status: event.previous_status,
      at: event.at,
    };
    const id = `${MES_MANUFACTURING_CHANGED}:${event.order_id}:${event.status}`;
    return { routingKey: MES_MANUFACTURING_CHANGED, message: { id, type: MES_MANUFACTURING_CHANGED, body } };
  }
  const ready = event.type === 'PriceJobCompleted';
  const body: QuoteFinishedEvent = {
    price_job_id: event.job_id,
    model_id: event.model_id,
    order_id: event.order_id,
    parameters: event.parameters,
    price: ready ? event.price : null,
    error: ready ? null : event.error,
    at: event.at,
  };
  const type = ready ? ROUTING.quoteReady : ROUTING.quoteFailed;
  return { routingKey: type, message: { id: `${type}:${event.job_id}`, type, body } };
}
