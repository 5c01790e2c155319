// Legacy-style MES events, emitted in-process for every state change.
// A later adapter publishes them on RabbitMQ. Each event is emitted twice on
// the same emitter: under 'event' (all types) and under its own type name.
import { EventEmitter } from 'node:events';
import type { OrderParameters, Price } from '../../contracts/orders.ts';
import type { ManufacturingStatus } from './manufacturing-status.ts';

export interface PriceJobCompleted {
  type: 'PriceJobCompleted';
  job_id: string;
  model_id: string;
  order_id: string | null;
  parameters: OrderParameters;
  price: Price;
  at: string;
}

export interface PriceJobFailed {
  type: 'PriceJobFailed';
  job_id: string;
  model_id: string;
  order_id: string | null;
  parameters: OrderParameters;
  error: string;
  at: string;
}

export interface ManufacturingStatusChanged {
  type: 'ManufacturingStatusChanged';
  order_id: string;
  model_id: string;
  status: ManufacturingStatus;
  previous_status: ManufacturingStatus | null;
  at: string;
}

export type MesEvent = PriceJobCompleted | PriceJobFailed | ManufacturingStatusChanged;

export class MesEvents extends EventEmitter {
  publish(event: MesEvent): void {
    this.emit('event', event);
    this.emit(event.type, event);
  }
}
