// Price jobs on simulated time: pending → ready (with a price) | failed.
import type { OrderParameters, Price } from '../../contracts/orders.ts';
import { createRandom } from '../data/seed.ts';
import type { SimClock } from '../shared/clock.ts';
import { computePrice, pricingSeconds } from './catalogue.ts';
import type { MesEvents } from './events.ts';
import type { ModelMeta } from './models.ts';
import { newId } from './models.ts';
import type { MesOrders } from './orders.ts';

export interface PriceJob {
  id: string;
  status: 'pending' | 'ready' | 'failed';
  model_id: string;
  order_id: string | null;
  parameters: OrderParameters;
  created_at: string;
  updated_at: string;
  /** Real seconds the job takes (simulated seconds / time scale). */
  estimated_seconds: number;
  /** Simulated seconds the job takes. */
  simulated_seconds: number;
  price?: Price;
  error?: string;
}

/** Statuses an order may leave when its price arrives (later ones are kept). */
const BEFORE_PRICE = new Set(['INITIATED', 'FILE_UPLOADED', 'SUBMITTED']);

/** What `submit` did: a new job, or the pending/ready one the order already has. */
export interface SubmitResult {
  job: PriceJob;
  created: boolean;
}

export class PriceJobs {
  private readonly jobs = new Map<string, PriceJob>();
  /** Jobs per order id, oldest first (a failed job may be followed by a new one). */
  private readonly byOrder = new Map<string, PriceJob[]>();
  private readonly clock: SimClock;
  private readonly events: MesEvents;
  private readonly orders: MesOrders;
  private readonly failRate: number;
  private readonly random: () => number;

  constructor(deps: { clock: SimClock; events: MesEvents; orders: MesOrders; failRate: number; seed: number }) {
    this.clock = deps.clock;
    this.events = deps.events;
    this.orders = deps.orders;
    this.failRate = deps.failRate;
    this.random = createRandom(deps.seed ^ 0x5eed);
  }

  get(id: string): PriceJob | undefined {
    return this.jobs.get(id);
  }

  /** Every job submitted for an order, oldest first. */
  forOrder(orderId: string): readonly PriceJob[] {
    return this.byOrder.get(orderId) ?? [];
  }

  /**
   * Idempotent per order id: when the order already has a pending or ready
   * job, that job is returned (created = false) and nothing new starts, so a
   * redelivered request never prices twice. A failed job does not count.
   */
  submit(model: ModelMeta, parameters: OrderParameters, orderId?: string, sellerId?: string): SubmitResult {
    if (orderId !== undefined) {
      const live = this.forOrder(orderId).find((j) => j.status !== 'failed');
      if (live) return { job: live, created: false };
    }
    const simulated = pricingSeconds(model.polygons);
    const at = this.clock.nowIso();
    const job: PriceJob = {
      id: newId('pj_'),
      status: 'pending',
      model_id: model.id,
      order_id: orderId ?? null,
      parameters,
      created_at: at,
      updated_at: at,
      estimated_seconds: Math.round(this.clock.realMs(simulated)) / 1000,
      simulated_seconds: simulated,
    };
    if (orderId !== undefined) {
      this.orders.ensure(orderId, { modelId: model.id, parameters, sellerId, status: 'SUBMITTED' });
    }
    this.jobs.set(job.id, job);
    if (orderId !== undefined) this.byOrder.set(orderId, [...this.forOrder(orderId), job]);
    // Decided now so the outcome does not depend on completion order.
    const fails = this.failRate > 0 && this.random() < this.failRate;
    this.clock.after(simulated, () => this.complete(job, model, fails));
    return { job, created: true };
  }

  private complete(job: PriceJob, model: ModelMeta, fails: boolean): void {
    const at = this.clock.nowIso();
    job.updated_at = at;
    const base = { job_id: job.id, model_id: job.model_id, order_id: job.order_id, parameters: job.parameters, at };
    if (fails) {
      job.status = 'failed';
      job.error = 'pricing engine could not process the model';
      this.events.publish({ type: 'PriceJobFailed', ...base, error: job.error });
      return;
    }
    job.status = 'ready';
    job.price = computePrice(job.parameters, model.polygons);
    if (job.order_id !== null) {
      const order = this.orders.get(job.order_id);
      if (order && BEFORE_PRICE.has(order.status)) this.orders.setStatus(job.order_id, 'PRICE_CALCULATED');
    }
    this.events.publish({ type: 'PriceJobCompleted', ...base, price: job.price });
  }
}
