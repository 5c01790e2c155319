// The saga's record of one order, kept in the KeyValueStore under
// `facet:saga:<order_id>` (JSON). Written after every step and always before
// the message that caused it is acked, so a process killed at any point
// resumes from the last step on redelivery.
//
// Steps, in order (→ the CRM status the saga has set when it gets there):
//   received        order.place seen, nothing upstream yet
//   crm_created     → SUBMITTED
//   pricing_requested  about to submit the MES price job (so a redelivery knows one may exist)
//   pricing         MES price job submitted (price_job_id), waiting for quote.ready / quote.failed
//   priced          → PRICE_CALCULATED (price from the quote, or from the command when quoted)
//   approved        → MANUFACTURING_APPROVED
//   manufacturing   MES accepted the manufacturing job; waiting for its status changes
//   in_production   → MANUFACTURING_STARTED, MANUFACTURING_COMPLETED, PACKAGING
//   completed       → SHIPPED (the saga's work is done; CLOSED is the business's)
//   rejected        → REJECTED with a reason (terminal)
//   cancelled       → CANCELLED with a reason (terminal)

import type { OrderStatus, PlaceOrderCommand } from '../../contracts/messages.ts';
import type { Price } from '../../contracts/orders.ts';

export const SAGA_STEPS = [
  'received',
  'crm_created',
  'pricing_requested',
  'pricing',
  'priced',
  'approved',
  'manufacturing',
  'in_production',
  'completed',
  'rejected',
  'cancelled',
] as const;
export type SagaStep = (typeof SAGA_STEPS)[number];

export const TERMINAL_STEPS: ReadonlySet<SagaStep> = new Set(['completed', 'rejected', 'cancelled']);

export interface SagaHistoryEntry {
  at: string;
  step: SagaStep;
  status?: OrderStatus;
  note?: string;
  /** The message that caused it. */
  message_id: string;
}

/**
 * A CRM status change the saga is about to make, written before the CRM call
 * and cleared by the checkpoint that follows its announcement. Found on
 * load, it means a process died between the CRM change and its
 * order.status_changed: the next message for the order finishes it first
 * (the CRM call again, a no-op if it landed; the event; the step), so no
 * CRM change goes unannounced whatever message comes next.
 */
export interface PendingStatus {
  status: OrderStatus;
  step: SagaStep;
  reason: string | null;
  price: Price | null;
  note?: string;
}

export interface SagaState {
  order_id: string;
  seller_id: string;
  step: SagaStep;
  /** The last status the saga set in the CRM (null before the CRM has the order). */
  status: OrderStatus | null;
  /** Why, once REJECTED or CANCELLED. */
  reason: string | null;
  price_job_id: string | null;
  price: Price | null;
  /** The order as placed: later steps need its model and parameters. */
  command: PlaceOrderCommand;
  history: SagaHistoryEntry[];
  /** Set while a CRM status change is in flight (see PendingStatus). */
  pending?: PendingStatus | null;
  /** Ids of the last messages handled to the end (duplicates are acked at once). */
  handled: string[];
  /** W3C traceparent of the span that first handled the order; later steps link to it (tracing on). */
  traceparent?: string;
  /** +1 on every write. */
  version: number;
  created_at: string;
  updated_at: string;
}

export const MAX_HISTORY = 100;
export const MAX_HANDLED = 50;

export function newSagaState(command: PlaceOrderCommand, now = new Date().toISOString()): SagaState {
  return {
    order_id: command.order_id,
    seller_id: command.seller_id,
    step: 'received',
    status: null,
    reason: null,
    price_job_id: null,
    price: null,
    command,
    history: [],
    handled: [],
    version: 0,
    created_at: now,
    updated_at: now,
  };
}
