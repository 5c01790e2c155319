// The CRM's order API as the saga uses it: create (idempotent by order id)
// and status changes (setting the current status again changes nothing).
// Canonical → CRM translation only; resilience comes from UpstreamClient.

import type { OrderStatus, PlaceOrderCommand } from '../contracts/messages.ts';
import type { Price } from '../../sim/data/seed.ts';
import { UpstreamClient } from '../../gateway/upstream/client.ts';
import { answer, type Answer } from '../shared/refusal.ts';
import { endpointConfig, type EndpointOverrides } from '../shared/upstream.ts';

/** The fields of a CRM order the saga reads. */
export interface CrmOrderView {
  id: string;
  status: OrderStatus;
  price: Price | null;
}

export class CrmClient {
  readonly upstream: UpstreamClient;

  constructor(url: string, overrides?: EndpointOverrides) {
    this.upstream = new UpstreamClient('crm', endpointConfig(url, overrides));
  }

  /** 201 created or 200 already known (same id): both are success. */
  async createOrder(command: PlaceOrderCommand): Promise<Answer<CrmOrderView>> {
    const body = {
      id: command.order_id,
      seller_id: command.seller_id,
      customer: command.customer,
      model: command.model,
      parameters: command.parameters,
      shipping: command.shipping,
      price: command.price,
      status: 'SUBMITTED',
    };
    return answer('crm', await this.upstream.json({ method: 'POST', path: '/crm/orders', body }));
  }

  async setStatus(orderId: string, status: OrderStatus, extra: { reason?: string | null; price?: Price | null } = {}): Promise<Answer<CrmOrderView>> {
    const body = {
      status,
      ...(extra.reason ? { reason: extra.reason } : {}),
      ...(extra.price ? { price: extra.price } : {}),
    };
    return answer('crm', await this.upstream.json({ method: 'POST', path: `/crm/orders/${encodeURIComponent(orderId)}/status`, body }));
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}
