// One message's work on one order's saga, under the order's lock: the state
// as loaded, the dependencies, and the three moves every step is made of.
//
// - checkpoint(step): state written (version + 1, history entry).
// - crmStatus(status, step): CRM status change → order.status_changed →
//   checkpoint. Each sub-step is idempotent, so a crash anywhere in it is
//   repaired by doing it again on redelivery: the CRM ignores a status it
//   already has, and the event id is the same.
// - reject / cancel: the compensating status with its reason.

import type { BusMessage } from '../../platform/bus/types.ts';
import type { OrderStatus } from '../../contracts/messages.ts';
import type { CrmClient } from '../crm/client.ts';
import type { MesClient } from '../mes/client.ts';
import type { SagaMetrics } from '../metrics.ts';
import type { AdapterLogger } from '../shared/logger.ts';
import type { Price } from '../../contracts/orders.ts';
import { SagaDeadError } from './errors.ts';
import type { Lease } from './lock.ts';
import { MAX_HANDLED, MAX_HISTORY, TERMINAL_STEPS, type PendingStatus, type SagaState, type SagaStep } from './state.ts';
import type { StatusEvents } from './status-events.ts';
import { noteCheckpoint } from './tracing.ts';
import type { SagaStore } from './store.ts';

export interface SagaDeps {
  crm: CrmClient;
  mes: MesClient;
  store: SagaStore;
  events: StatusEvents;
  logger: AdapterLogger;
  metrics?: SagaMetrics | undefined;
}

export class SagaRun {
  readonly deps: SagaDeps;
  readonly state: SagaState;
  readonly message: BusMessage;
  private readonly lease: Lease;
  private written = false;
  /** When the work towards the next step began (performance.now()). */
  private stepStarted = performance.now();

  constructor(deps: SagaDeps, state: SagaState, message: BusMessage, lease: Lease) {
    this.deps = deps;
    this.state = state;
    this.message = message;
    this.lease = lease;
  }

  get orderId(): string {
    return this.state.order_id;
  }

  /** Moves to `step` and writes the state (before anything is acked). */
  async checkpoint(step: SagaStep, note?: string): Promise<void> {
    const previous = this.state.step;
    await this.write(step, note);
    const metrics = this.deps.metrics;
    if (!metrics) return;
    const now = performance.now();
    metrics.step(step, (now - this.stepStarted) / 1000);
    this.stepStarted = now;
    if (previous !== step && TERMINAL_STEPS.has(step)) metrics.outcome(step === 'completed' ? 'completed' : 'compensated');
  }

  private async write(step: SagaStep, note: string | undefined): Promise<void> {
    this.lease.assertHeld();
    const s = this.state;
    const at = new Date().toISOString();
    s.pending = null;
    s.step = step;
    s.version++;
    s.updated_at = at;
    s.history.push({ at, step, ...(s.status ? { status: s.status } : {}), ...(note ? { note } : {}), message_id: this.message.id });
    if (s.history.length > MAX_HISTORY) s.history.splice(0, s.history.length - MAX_HISTORY);
    await this.deps.store.save(s);
    this.written = true;
    noteCheckpoint(step, note);
  }

  /** Records the message as handled to the end (only if it changed anything). */
  async finish(): Promise<void> {
    if (!this.written) return;
    const s = this.state;
    if (!s.handled.includes(this.message.id)) s.handled.push(this.message.id);
    if (s.handled.length > MAX_HANDLED) s.handled.splice(0, s.handled.length - MAX_HANDLED);
    this.lease.assertHeld();
    s.version++;
    await this.deps.store.save(s);
  }

  /** Emits order.status_changed for a status the CRM now has (or, for REJECTED before the CRM knew the order, the saga alone). */
  async announce(status: OrderStatus, reason: string | null = null): Promise<void> {
    const s = this.state;
    await this.deps.events.publish({ order_id: s.order_id, seller_id: s.seller_id, status, previous_status: s.status, reason }, this.message);
    this.deps.metrics?.transition(status);
    s.status = status;
    if (reason !== null) s.reason = reason;
  }

  /**
   * CRM status change → event → checkpoint, with the intent written first
   * (state.pending) so a crash after the CRM call is finished by whichever
   * message comes next (finishPending). A CRM refusal (4xx) here is
   * permanent: the message is parked.
   */
  async crmStatus(status: OrderStatus, step: SagaStep, extra: { reason?: string; price?: Price; note?: string } = {}): Promise<void> {
    const pending: PendingStatus = { status, step, reason: extra.reason ?? null, price: extra.price ?? null, ...(extra.note ? { note: extra.note } : {}) };
    this.lease.assertHeld();
    this.state.pending = pending;
    await this.deps.store.save(this.state);
    await this.apply(pending);
  }

  /** A status change found pending on load: made again (the CRM ignores a status it has) and announced. */
  async finishPending(): Promise<void> {
    const pending = this.state.pending;
    if (!pending) return;
    this.deps.logger.info({ order_id: this.orderId, status: pending.status }, 'saga: finishing a CRM status change cut short');
    await this.apply(pending);
  }

  private async apply(pending: PendingStatus): Promise<void> {
    const { status, step, reason, price, note } = pending;
    const res = await this.deps.crm.setStatus(this.orderId, status, { reason, price });
    if (!res.ok) throw new SagaDeadError(`CRM refused status ${status} for ${this.orderId}: ${res.status} ${res.error}`);
    if (price) this.state.price = price;
    await this.announce(status, reason);
    await this.checkpoint(step, note);
  }

  /**
   * Compensation: the order ends REJECTED with `reason`. Whatever the CRM
   * held (SUBMITTED, PRICE_CALCULATED, MANUFACTURING_APPROVED) is reverted
   * by that status; an order the CRM never accepted is only announced.
   */
  async reject(reason: string, note?: string): Promise<void> {
    this.deps.logger.info({ order_id: this.orderId, reason, note }, 'saga: order rejected');
    if (this.state.status === null) {
      await this.announce('REJECTED', reason);
      await this.checkpoint('rejected', note);
      return;
    }
    await this.crmStatus('REJECTED', 'rejected', { reason, ...(note ? { note } : {}) });
  }

  /** Notes something that changed nothing upstream (e.g. a refused cancel). */
  async note(note: string): Promise<void> {
    await this.write(this.state.step, note);
  }
}
