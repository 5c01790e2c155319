// The gateway's handling of `order.status_changed` (gateway/events.ts): the
// cache is told, the order's price-job slot freed, and the pending record
// (the answer between the 202 and the CRM create) dropped once the CRM has
// the order, or moved on for a rejection or cancellation the CRM may never
// have seen.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrderStatus, OrderStatusChangedEvent } from '../../contracts/messages.ts';
import { onOrderStatusChanged } from '../../gateway/events.ts';
import { OrderChangeHub } from '../../gateway/order-changes.ts';
import type { PublicOrder } from '../../gateway/operations/orders.ts';
import { records } from '../../gateway/operations/records.ts';
import type { OrderChange } from '../../platform/pipeline/policy.ts';
import { MemoryKeyValueStore } from '../../platform/state/kv.ts';

const SELLER = 'slr_0003';
const ORDER = 'ord_events00001';

function pendingOrder(): PublicOrder {
  const at = '2026-12-08T00:00:00.000Z';
  return {
    id: ORDER,
    status: 'SUBMITTED',
    created_at: at,
    updated_at: at,
    customer: { name: 'A Customer', email: 'a@example.com' },
    model: { id: 'mdl_1', filename: 'ring.stl', format: 'stl', sha256: 'a'.repeat(64), polygons: 40 },
    parameters: { material: 'gold_18k_yellow', size_mm: 54, finish: 'polished' },
    price: null,
    shipping: { name: 'A Customer', line1: '1 Street', city: 'Paris', postal_code: '75001', country: 'FR' },
  };
}

function event(status: OrderStatus, reason: string | null = null): OrderStatusChangedEvent {
  return { order_id: ORDER, seller_id: SELLER, status, previous_status: 'SUBMITTED', reason, at: '2026-12-08T00:01:00.000Z' };
}

async function setUp(): Promise<{ services: { orderChanges: OrderChangeHub; state: MemoryKeyValueStore }; changes: OrderChange[] }> {
  const state = new MemoryKeyValueStore();
  const orderChanges = new OrderChangeHub();
  const changes: OrderChange[] = [];
  orderChanges.onChange(async (change) => {
    changes.push(change);
  });
  await records.pendingOrder.put(state, SELLER, pendingOrder());
  await state.addUntil(records.priceJobs.key(SELLER), records.priceJobs.orderMember(ORDER), Date.now() + 60_000);
  return { services: { orderChanges, state }, changes };
}

describe('gateway: order.status_changed', () => {
  for (const status of ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'SHIPPED'] as const) {
    it(`${status}: announced after the CRM accepted it, so the pending record goes; the cache is told`, async () => {
      const { services, changes } = await setUp();
      await onOrderStatusChanged(services, event(status));
      assert.equal(await services.state.get(records.pendingOrder.key(ORDER)), null, 'the CRM answers reads now');
      assert.deepEqual(changes, [{ sellerId: SELLER, kind: 'status_changed' }]);
      // The slot is held until the first change after SUBMITTED (the order's price job is settled then).
      assert.equal(await services.state.countLive(records.priceJobs.key(SELLER)), status === 'SUBMITTED' ? 1 : 0);
    });
  }

  for (const status of ['REJECTED', 'CANCELLED'] as const) {
    it(`${status}: perhaps never in the CRM, so the pending record says so, with its reason`, async () => {
      const { services, changes } = await setUp();
      await onOrderStatusChanged(services, event(status, 'crm_rejected'));
      const pending = await records.pendingOrder.get(services.state, ORDER, SELLER);
      assert.equal(pending?.status, status);
      assert.equal(pending?.status_reason, 'crm_rejected');
      assert.equal(pending?.updated_at, '2026-12-08T00:01:00.000Z');
      assert.deepEqual(changes, [{ sellerId: SELLER, kind: 'status_changed' }]);
      assert.equal(await services.state.countLive(records.priceJobs.key(SELLER)), 0);
    });
  }

  it('a redelivered event, or one for an order without a pending record, changes nothing and does not fail', async () => {
    const { services } = await setUp();
    await onOrderStatusChanged(services, event('PRICE_CALCULATED'));
    await onOrderStatusChanged(services, event('PRICE_CALCULATED'));
    await onOrderStatusChanged(services, event('REJECTED', 'price_job_failed'));
    assert.equal(await services.state.get(records.pendingOrder.key(ORDER)), null, 'no record made again from nothing');
  });
});
