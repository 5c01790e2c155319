// A process that dies between a CRM status change and its
// order.status_changed must not leave that change unannounced, whatever
// message for the order comes next. Seen in the SIGKILL test on a busy
// machine: the CRM had PRICE_CALCULATED, the process died before the event,
// the order's cancel came first on restart and the saga, still at
// crm_created, went straight to CANCELLED: PRICE_CALCULATED was never
// announced (statuses stale between systems). The saga now writes its intent
// before the CRM call and finishes it on the next message.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ROUTING, type CancelOrderCommand, type OrderStatus, type OrderStatusChangedEvent } from '../../contracts/messages.ts';
import type { Delivery, HandlerResult } from '../../platform/bus/types.ts';
import { MemoryKeyValueStore } from '../../platform/state/kv.ts';
import { CrmClient } from '../../adapters/crm/client.ts';
import type { MesClient } from '../../adapters/mes/client.ts';
import { silentLogger } from '../../adapters/shared/logger.ts';
import { sagaHandler } from '../../adapters/saga/consumer.ts';
import { OrderLocks } from '../../adapters/saga/lock.ts';
import { SagaStore } from '../../adapters/saga/store.ts';
import type { StatusEvents } from '../../adapters/saga/status-events.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { startCrmSim, type CrmSimHandle } from '../../sim/index.ts';
import { FAST_LATENCY, crmHistory, placeCommand, randomTag } from './helpers.ts';

class ProcessDied extends Error {}

/** The real CRM client, except that the process "dies" right after the CRM accepted `dieAfter`. */
class DyingCrm extends CrmClient {
  dieAfter: OrderStatus | null = null;

  override async setStatus(...args: Parameters<CrmClient['setStatus']>): ReturnType<CrmClient['setStatus']> {
    const answer = await super.setStatus(...args);
    if (args[1] === this.dieAfter) {
      this.dieAfter = null;
      throw new ProcessDied(`killed after the CRM took ${args[1]}`);
    }
    return answer;
  }
}

describe('saga: a CRM change cut short before its event', () => {
  const dataset = generateDataset(7, 3, 50);
  let crmSim: CrmSimHandle;
  let crm: DyingCrm;
  const events: OrderStatusChangedEvent[] = [];
  let handle: (delivery: Delivery) => Promise<HandlerResult>;

  before(async () => {
    crmSim = await startCrmSim({ dataset, latency: FAST_LATENCY });
    crm = new DyingCrm(crmSim.url);
    const kv = new MemoryKeyValueStore();
    const statusEvents = { publish: async (event: Omit<OrderStatusChangedEvent, 'at'>) => void events.push({ ...event, at: new Date().toISOString() }) } as unknown as StatusEvents;
    // The quoted order below never reaches MES: a call would be a test failure.
    const mes = new Proxy({}, { get: (_, name) => () => assert.fail(`unexpected MES call ${String(name)}`) }) as unknown as MesClient;
    const deps = { crm, mes, store: new SagaStore(kv), events: statusEvents, logger: silentLogger };
    handle = sagaHandler(deps, new OrderLocks(kv, { keyPrefix: 'facet:saga:' }));
  });

  after(async () => {
    await crm.close();
    await crmSim.close();
  });

  it('announces the change when the next message is a different one (a cancel)', async () => {
    const template = dataset.orders[0];
    assert.ok(template);
    const orderId = `ord_intent_${randomTag()}`;
    const place = placeCommand(template, orderId, { price: { amount_minor: 12_000, currency: 'EUR' }, quote_id: 'qt_test' });
    crm.dieAfter = 'PRICE_CALCULATED';
    const placeDelivery: Delivery = { message: { id: `${orderId}:place`, type: ROUTING.placeOrder, body: place }, routingKey: ROUTING.placeOrder, attempt: 1, redelivered: false };
    await assert.rejects(handle(placeDelivery), ProcessDied);
    assert.deepEqual(crmHistory(crmSim.store.getOrder(orderId)), ['SUBMITTED', 'PRICE_CALCULATED'], 'the CRM took the change');
    assert.deepEqual(
      events.filter((e) => e.order_id === orderId).map((e) => e.status),
      ['SUBMITTED'],
      'the process died before announcing it',
    );

    const cancel: CancelOrderCommand = { order_id: orderId, seller_id: place.seller_id, reason: 'changed my mind', requested_at: new Date().toISOString() };
    const cancelDelivery: Delivery = { message: { id: `${orderId}:cancel`, type: ROUTING.cancelOrder, body: cancel }, routingKey: ROUTING.cancelOrder, attempt: 1, redelivered: false };
    assert.equal(await handle(cancelDelivery), 'ack');

    const history = crmHistory(crmSim.store.getOrder(orderId));
    assert.deepEqual(history, ['SUBMITTED', 'PRICE_CALCULATED', 'CANCELLED']);
    const announced = events.filter((e) => e.order_id === orderId);
    assert.deepEqual(
      announced.map((e) => e.status),
      history,
      'every CRM change announced, in order',
    );
    assert.equal(announced[2]?.previous_status, 'PRICE_CALCULATED');

    // The place command, redelivered after the "restart", changes nothing more.
    assert.equal(await handle({ ...placeDelivery, attempt: 2, redelivered: true }), 'ack');
    assert.deepEqual(crmHistory(crmSim.store.getOrder(orderId)), history);
    assert.equal(events.filter((e) => e.order_id === orderId).length, 3);
  });
});
