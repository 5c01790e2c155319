// What each message does to a loaded saga (under the order's lock). Every
// branch looks at the step first, so a message that arrives again, late, or
// out of order changes nothing it should not.

import type { CancelOrderCommand, OrderStatus, QuoteFinishedEvent } from '../../contracts/messages.ts';
import type { MesManufacturingChangedEvent } from '../mes/messages.ts';
import type { SagaRun } from './run.ts';
import { TERMINAL_STEPS, type SagaStep } from './state.ts';
import { advance, createInCrm, priced } from './steps.ts';

/** order.place: start, or resume after a crash, from the recorded step. */
export function onPlace(run: SagaRun): Promise<void> {
  return advance(run);
}

const AWAITING_PRICE: ReadonlySet<SagaStep> = new Set(['pricing_requested', 'pricing']);
/** Steps the quote's own handling passes through: seeing one means that handling was cut short. */
const AFTER_PRICE: ReadonlySet<SagaStep> = new Set(['priced', 'approved']);

/** quote.ready / quote.failed for the order's price job. */
export async function onQuoteFinished(run: SagaRun, quote: QuoteFinishedEvent): Promise<void> {
  const s = run.state;
  if (AFTER_PRICE.has(s.step)) {
    // Redelivered after a crash between "priced" and "manufacturing": carry on from there.
    await advance(run);
    return;
  }
  if (!AWAITING_PRICE.has(s.step)) {
    run.deps.logger.debug({ order_id: s.order_id, step: s.step, job: quote.price_job_id }, 'saga: quote for an order past pricing (duplicate or late)');
    return;
  }
  if (s.price_job_id !== null && s.price_job_id !== quote.price_job_id) {
    run.deps.logger.warn({ order_id: s.order_id, expected: s.price_job_id, got: quote.price_job_id }, 'saga: quote for another price job ignored');
    return;
  }
  s.price_job_id = quote.price_job_id;
  if (quote.price) {
    await priced(run, quote.price, `price job ${quote.price_job_id} ready`);
    await advance(run);
  } else {
    await run.reject('price_job_failed', quote.error ?? `price job ${quote.price_job_id} failed`);
  }
}

/** MES's manufacturing line, in order; CRM follows it one status at a time. */
const LINE: readonly OrderStatus[] = ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED'];
const MANUFACTURING_STEPS: ReadonlySet<SagaStep> = new Set(['approved', 'manufacturing', 'in_production']);

/**
 * mes.manufacturing_changed. Statuses only move forward along LINE; one that
 * skips ahead (events reordered by retries) fills in the ones between, so the
 * CRM and order.status_changed still see every status in order; one behind
 * the current status is a duplicate.
 */
export async function onManufacturingChanged(run: SagaRun, change: MesManufacturingChangedEvent): Promise<void> {
  const s = run.state;
  if (!MANUFACTURING_STEPS.has(s.step)) {
    const log = TERMINAL_STEPS.has(s.step) ? run.deps.logger.debug : run.deps.logger.warn;
    log.call(run.deps.logger, { order_id: s.order_id, step: s.step, mes_status: change.status }, 'saga: manufacturing change ignored in this step');
    return;
  }
  if (change.status === 'CANCELLED') {
    await run.crmStatus('CANCELLED', 'cancelled', { reason: 'mes_cancelled', note: 'cancelled in MES' });
    return;
  }
  const target = LINE.indexOf(change.status);
  for (let i = LINE.indexOf(s.status ?? 'MANUFACTURING_APPROVED') + 1; i <= target; i++) {
    const status = LINE[i] as OrderStatus;
    await run.crmStatus(status, status === 'SHIPPED' ? 'completed' : 'in_production');
  }
}

/**
 * order.cancel: accepted until manufacturing starts. Before MES has a
 * manufacturing job: CRM CANCELLED with the command's reason (a pending price
 * job is left to finish; its quote is then ignored). Once a job may exist
 * (approved / manufacturing): MES cancel first; 404 means there is none;
 * 409 means it is under way and the cancel is refused. A refusal changes
 * nothing upstream and emits nothing: it is logged and noted in the saga's
 * history (the gateway checks the status before accepting a cancel, so this
 * is a race, settled in favour of manufacturing).
 */
export async function onCancel(run: SagaRun, command: CancelOrderCommand): Promise<void> {
  const s = run.state;
  if (s.step === 'cancelled') return;
  if (TERMINAL_STEPS.has(s.step) || s.step === 'in_production') {
    await refuse(run, `order is ${s.status ?? s.step}`);
    return;
  }
  if (s.step === 'received' && !(await createInCrm(run))) return;
  if (s.step === 'approved' || s.step === 'manufacturing') {
    const res = await run.deps.mes.cancelManufacturing(s.order_id);
    if (!res.ok && res.status !== 404) {
      await refuse(run, `MES ${res.status}: ${res.error}`);
      return;
    }
  }
  await run.crmStatus('CANCELLED', 'cancelled', { reason: command.reason, note: 'cancelled on request' });
}

async function refuse(run: SagaRun, why: string): Promise<void> {
  run.deps.logger.info({ order_id: run.orderId, step: run.state.step, why }, 'saga: cancel refused, manufacturing under way');
  await run.note(`cancel refused: ${why}`);
}
