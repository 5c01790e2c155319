// The MES work API as the saga uses it: price jobs (idempotent per order id:
// a pending or ready job for the order is returned, 200; a failed one does
// not count, so the saga looks up the order's jobs before submitting again
// after a crash), manufacturing
// (idempotent per order id; 409 {reason: "capacity"} when full) and its
// cancellation (200 within the cancel window, 409 once under way, 404 when
// there is no job). Every 2xx answer is checked against its contract
// (contracts/upstream-answers.ts) before the saga reads it.

import type { OrderParameters } from '../../contracts/orders.ts';
import { UpstreamClient } from '../../platform/upstream/client.ts';
import { type MesManufacturingJob, type MesPriceJob } from '../../contracts/upstream-answers.ts';
import { MES } from '../../platform/upstream/operations.ts';
import { answer, type Answer } from '../shared/refusal.ts';
import { endpointConfig, type EndpointOverrides } from '../shared/upstream.ts';

export interface WorkRequest {
  order_id: string;
  seller_id: string;
  model_id: string;
  parameters: OrderParameters;
}

export class MesClient {
  readonly upstream: UpstreamClient;

  constructor(url: string, overrides?: EndpointOverrides) {
    this.upstream = new UpstreamClient('mes', endpointConfig(url, overrides));
  }

  async submitPriceJob(work: WorkRequest): Promise<Answer<MesPriceJob>> {
    return answer('mes', await this.upstream.json({ method: 'POST', path: '/mes/price-jobs', body: work, contract: MES.submitPriceJob }));
  }

  /** The order's price jobs, oldest first (a read: retried by the client on transient failures). */
  async priceJobsFor(orderId: string): Promise<MesPriceJob[]> {
    const res = answer<{ items: MesPriceJob[] }>('mes', await this.upstream.json({ path: '/mes/price-jobs', query: { order_id: orderId }, contract: MES.priceJobsOfOrder }));
    if (!res.ok) throw new Error(`MES refused the price job lookup: ${res.status} ${res.error}`);
    return res.body.items;
  }

  async startManufacturing(work: WorkRequest): Promise<Answer<MesManufacturingJob>> {
    return answer('mes', await this.upstream.json({ method: 'POST', path: '/mes/manufacturing', body: work, contract: MES.startManufacturing }));
  }

  async cancelManufacturing(orderId: string): Promise<Answer<MesManufacturingJob>> {
    return answer('mes', await this.upstream.json({ method: 'POST', path: `/mes/manufacturing/${encodeURIComponent(orderId)}/cancel`, contract: MES.cancelManufacturing }));
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}
