// The CRM's order API as the saga uses it: create (idempotent by order id)
// and status changes (setting the current status again changes nothing).
// Canonical → CRM translation only; resilience comes from UpstreamClient,
// and every 2xx answer is checked against its contract (contracts/
// upstream-answers.ts) before the saga reads it: a wrong one throws, a transient
// failure the bus retries and, if it persists, parks.

import type { OrderStatus, PlaceOrderCommand } from '../../contracts/messages.ts';
import type { Price } from '../../contracts/orders.ts';
import { UpstreamClient } from '../../platform/upstream/client.ts';
import { type CrmOrderRef } from '../../contracts/upstream-answers.ts';
import { CRM } from '../../platform/upstream/operations.ts';
import { answer, type Answer } from '../shared/refusal.ts';
import { endpointConfig, type EndpointOverrides } from '../shared/upstream.ts';

export class CrmClient {
  readonly upstream: UpstreamClient;

  constructor(url: string, overrides?: EndpointOverrides) {
    this.upstream = new UpstreamClient('crm', endpointConfig(url, overrides));
  }

  /** 201 created or 200 already known (same id): both are success. */
  async createOrder(command: PlaceOrderCommand): Promise<Answer<CrmOrderRef>> {
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
    return answer('crm', await this.upstream.json({ method: 'POST', path: '/crm/orders', body, contract: CRM.createOrder }));
  }

  async setStatus(orderId: string, status: OrderStatus, extra: { reason?: string | null; price?: Price | null } = {}): Promise<Answer<CrmOrderRef>> {
    const body = {
      status,
      ...(extra.reason ? { reason: extra.reason } : {}),
      ...(extra.price ? { price: extra.price } : {}),
    };
    return answer('crm', await this.upstream.json({ method: 'POST', path: `/crm/orders/${encodeURIComponent(orderId)}/status`, body, contract: CRM.setStatus }));
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}
