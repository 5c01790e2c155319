// Manufacturing queue on simulated time, limited to `capacity` jobs in
// production at once:
//   MANUFACTURING_STARTED (4 h) → MANUFACTURING_COMPLETED (1 h) → PACKAGING (1 h) → SHIPPED
// A job can be cancelled during its first `cancelWindowSeconds` (setup, before
// metal is cast; default 10 simulated minutes); later, cancelling is refused.
import type { OrderParameters } from '../../contracts/orders.ts';
import type { SimClock } from '../shared/clock.ts';
import type { MesEvents } from './events.ts';
import type { ManufacturingStatus } from './manufacturing-status.ts';
import type { MesOrders } from './orders.ts';


type TimedStage = 'MANUFACTURING_STARTED' | 'MANUFACTURING_COMPLETED' | 'PACKAGING';

/** Simulated seconds spent in each stage before the next one. */
export type StageSeconds = Record<TimedStage, number>;

export const DEFAULT_STAGE_SECONDS: Readonly<StageSeconds> = Object.freeze({
  MANUFACTURING_STARTED: 4 * 3600,
  MANUFACTURING_COMPLETED: 3600,
  PACKAGING: 3600,
});
export const DEFAULT_CANCEL_WINDOW_SECONDS = 600;
export const DEFAULT_CAPACITY = 50;

const NEXT: Record<TimedStage, ManufacturingStatus> = {
  MANUFACTURING_STARTED: 'MANUFACTURING_COMPLETED',
  MANUFACTURING_COMPLETED: 'PACKAGING',
  PACKAGING: 'SHIPPED',
};

export interface ManufacturingJob {
  order_id: string;
  model_id: string;
  parameters: OrderParameters;
  status: ManufacturingStatus;
  created_at: string;
  updated_at: string;
  /** Until then (real time) the job may still be cancelled. */
  cancellable_until: string;
  history: { status: ManufacturingStatus; at: string }[];
}

export type StartResult = { kind: 'created' | 'existing'; job: ManufacturingJob } | { kind: 'no_capacity' };
export type CancelResult = { kind: 'cancelled'; job: ManufacturingJob } | { kind: 'too_late'; job: ManufacturingJob } | { kind: 'not_found' };

export interface ManufacturingOptions {
  capacity: number;
  stageSeconds: StageSeconds;
  cancelWindowSeconds: number;
}

export class Manufacturing {
  private readonly jobs = new Map<string, ManufacturingJob>();
  private readonly cancels = new Map<string, () => void>();
  private readonly clock: SimClock;
  private readonly events: MesEvents;
  private readonly orders: MesOrders;
  readonly options: ManufacturingOptions;
  private inProduction = 0;

  constructor(deps: { clock: SimClock; events: MesEvents; orders: MesOrders }, options: ManufacturingOptions) {
    this.clock = deps.clock;
    this.events = deps.events;
    this.orders = deps.orders;
    this.options = options;
  }

  get(orderId: string): ManufacturingJob | undefined {
    return this.jobs.get(orderId);
  }

  /** Jobs in MANUFACTURING_STARTED, the ones holding capacity. */
  get active(): number {
    return this.inProduction;
  }

  /** Idempotent by order id; refuses when `capacity` jobs are in production. */
  start(input: { orderId: string; modelId: string; parameters: OrderParameters; sellerId?: string | undefined }): StartResult {
    const existing = this.jobs.get(input.orderId);
    if (existing) return { kind: 'existing', job: existing };
    if (this.inProduction >= this.options.capacity) return { kind: 'no_capacity' };
    const at = this.clock.nowIso();
    const job: ManufacturingJob = {
      order_id: input.orderId,
      model_id: input.modelId,
      parameters: input.parameters,
      status: 'MANUFACTURING_STARTED',
      created_at: at,
      updated_at: at,
      cancellable_until: new Date(Date.now() + this.clock.realMs(this.options.cancelWindowSeconds)).toISOString(),
      history: [{ status: 'MANUFACTURING_STARTED', at }],
    };
    this.jobs.set(job.order_id, job);
    this.inProduction++;
    const order = this.orders.ensure(input.orderId, {
      modelId: input.modelId,
      parameters: input.parameters,
      sellerId: input.sellerId,
      status: 'MANUFACTURING_STARTED',
    });
    this.orders.setStatus(order.order_id, 'MANUFACTURING_STARTED');
    this.announce(job, null);
    this.schedule(job, 'MANUFACTURING_STARTED');
    return { kind: 'created', job };
  }

  cancel(orderId: string): CancelResult {
    const job = this.jobs.get(orderId);
    if (!job) return { kind: 'not_found' };
    if (job.status === 'CANCELLED') return { kind: 'cancelled', job };
    if (job.status !== 'MANUFACTURING_STARTED' || Date.now() >= Date.parse(job.cancellable_until)) {
      return { kind: 'too_late', job };
    }
    this.cancels.get(orderId)?.();
    this.transition(job, 'CANCELLED');
    return { kind: 'cancelled', job };
  }

  private schedule(job: ManufacturingJob, stage: TimedStage): void {
    const cancel = this.clock.after(this.options.stageSeconds[stage], () => {
      this.cancels.delete(job.order_id);
      const next = NEXT[stage];
      this.transition(job, next);
      if (next !== 'SHIPPED' && next !== 'CANCELLED') this.schedule(job, next);
    });
    this.cancels.set(job.order_id, cancel);
  }

  private transition(job: ManufacturingJob, status: ManufacturingStatus): void {
    const previous = job.status;
    if (previous === 'MANUFACTURING_STARTED') this.inProduction--;
    const at = this.clock.nowIso();
    job.status = status;
    job.updated_at = at;
    job.history.push({ status, at });
    this.orders.setStatus(job.order_id, status);
    this.announce(job, previous);
  }

  private announce(job: ManufacturingJob, previous: ManufacturingStatus | null): void {
    this.events.publish({
      type: 'ManufacturingStatusChanged',
      order_id: job.order_id,
      model_id: job.model_id,
      status: job.status,
      previous_status: previous,
      at: job.updated_at,
    });
  }
}
