// Everything MES holds, built once from the dataset.
import type { Dataset } from '../data/seed.ts';
import type { SimClock } from '../shared/clock.ts';
import { MesEvents } from './events.ts';
import { Manufacturing } from './manufacturing.ts';
import type { ManufacturingOptions } from './manufacturing.ts';
import { ModelStore } from './models.ts';
import { MesOrders } from './orders.ts';
import { PriceJobs } from './pricing.ts';

export interface MesStoreOptions {
  storageDir: string;
  maxModelBytes: number;
  priceFailRate: number;
  manufacturing: ManufacturingOptions;
}

export class MesStore {
  readonly events = new MesEvents();
  readonly orders: MesOrders;
  readonly models: ModelStore;
  readonly prices: PriceJobs;
  readonly manufacturing: Manufacturing;

  constructor(dataset: Dataset, clock: SimClock, options: MesStoreOptions) {
    const now = (): string => clock.nowIso();
    this.orders = new MesOrders(dataset, now);
    this.models = new ModelStore(dataset.orders, options.storageDir, options.maxModelBytes, now);
    const deps = { clock, events: this.events, orders: this.orders };
    this.prices = new PriceJobs({ ...deps, failRate: options.priceFailRate, seed: dataset.seed });
    this.manufacturing = new Manufacturing(deps, options.manufacturing);
  }
}
