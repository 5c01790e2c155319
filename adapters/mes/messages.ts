// The MES adapter's internal event for the saga: a manufacturing status
// change, already in canonical field names. Not for outside consumers: the
// saga turns it into CRM updates and the canonical `order.status_changed`.
// (Proposed for contracts/messages.ts; kept here until accepted.)

import type { MesManufacturingStatus } from './legacy.ts';

export const MES_MANUFACTURING_CHANGED = 'mes.manufacturing_changed';

/** events / `mes.manufacturing_changed`. */
export interface MesManufacturingChangedEvent {
  order_id: string;
  model_id: string;
  status: MesManufacturingStatus;
  previous_status: MesManufacturingStatus | null;
  at: string;
}
