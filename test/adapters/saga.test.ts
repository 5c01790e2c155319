// The order saga end to end with the in-process simulators, on the memory
// bus + memory store and on RabbitMQ + Redis: happy path, quoted orders,
// compensation (MES full, price job failed, CRM refusal), cancel before and
// after manufacturing starts, redelivery, transient failures, dead letters.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OrderStatus } from '../../contracts/messages.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { SAGA_COMMANDS_QUEUE } from '../../adapters/index.ts';
import { computePrice } from '../../sim/index.ts';
import { Stack, crmHistory, placeCommand, sleep, smallOrders, waitFor, type StackKind } from './helpers.ts';

const FULL_LINE: OrderStatus[] = [
  'SUBMITTED',
  'PRICE_CALCULATED',
  'MANUFACTURING_APPROVED',
  'MANUFACTURING_STARTED',
  'MANUFACTURING_COMPLETED',
  'PACKAGING',
  'SHIPPED',
];

for (const kind of ['memory', 'rabbit'] as StackKind[]) {
  describe(`order saga on the ${kind} bus`, () => {
    let stack: Stack;
    before(async () => {
      stack = await Stack.start({ kind, adapters: { crm: { breaker: { halfOpenAfterMs: 200 } } } });
    });
    after(() => stack.close());

    it('runs an order through CRM create, MES price, CRM approve and MES manufacture', async () => {
      const template = smallOrders(stack.dataset, 1)[0]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id));
      const shipped = await stack.waitCrmStatus(id, 'SHIPPED');
      assert.deepEqual(crmHistory(shipped), FULL_LINE);
      assert.deepEqual(shipped.price, computePrice(template.parameters, template.model.polygons));
      assert.equal(stack.mes.store.prices.forOrder(id).length, 1);
      assert.equal(stack.mes.store.manufacturing.get(id)?.status, 'SHIPPED');
      await waitFor(() => stack.observed(id).length === FULL_LINE.length, 2_000, 'events');
      assert.deepEqual(stack.observed(id), FULL_LINE);
      const first = stack.statuses.get(id)?.[0];
      assert.equal(first?.previous_status, null);
      assert.equal(stack.statuses.get(id)?.[1]?.previous_status, 'SUBMITTED');
      const state = await stack.adapters.sagaStore.load(id);
      assert.equal(state?.step, 'completed');
      assert.ok(state && state.version > 7);
    });

    it('skips pricing for a quoted order', async () => {
      const template = smallOrders(stack.dataset, 2)[1]!;
      const id = stack.newOrderId();
      const price = { amount_minor: 123_45, currency: 'EUR' } as const;
      await stack.place(placeCommand(template, id, { price, quote_id: 'qt_test' }));
      const order = await stack.waitCrmStatus(id, ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED']);
      assert.deepEqual(order.price, price);
      assert.deepEqual(crmHistory(order).slice(0, 4), FULL_LINE.slice(0, 4));
      assert.equal(stack.mes.store.prices.forOrder(id).length, 0);
    });

    it('rejects an order the CRM refuses (crm_rejected), with nothing in the CRM', async () => {
      const id = stack.newOrderId();
      await stack.place(placeCommand(stack.dataset.orders[0]!, id, { seller_id: 'slr_nobody' }));
      await waitFor(() => stack.statuses.get(id)?.find((e) => e.status === 'REJECTED'), 5_000, 'REJECTED event');
      const event = stack.statuses.get(id)?.find((e) => e.status === 'REJECTED');
      assert.equal(event?.reason, 'crm_rejected');
      assert.equal(stack.crmOrder(id), undefined);
      assert.equal((await stack.adapters.sagaStore.load(id))?.step, 'rejected');
    });

    it('rejects an order whose model MES does not know (price_job_rejected), compensating the CRM', async () => {
      const id = stack.newOrderId();
      const template = stack.dataset.orders[0]!;
      await stack.place(placeCommand(template, id, { model: { ...template.model, id: 'mdl_unknown0000' } }));
      const order = await stack.waitCrmStatus(id, 'REJECTED');
      assert.deepEqual(crmHistory(order), ['SUBMITTED', 'REJECTED']);
      assert.equal(order.history?.at(-1)?.reason, 'price_job_rejected');
    });

    it('cancels an order while it is being priced', async () => {
      const template = [...stack.dataset.orders].sort((a, b) => b.model.polygons - a.model.polygons)[0]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id));
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.step === 'pricing', 5_000, 'pricing');
      await stack.cancel(id, 'found a better ring');
      const order = await stack.waitCrmStatus(id, 'CANCELLED');
      assert.equal(order.history?.at(-1)?.reason, 'found a better ring');
      // The price job finishes later; its quote is ignored.
      await waitFor(() => stack.mes.store.prices.forOrder(id)[0]?.status === 'ready', 5_000, 'price job done');
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.handled.length, 1_000);
      await sleep(100);
      assert.equal(stack.crmOrder(id)?.status, 'CANCELLED');
      assert.equal(stack.mes.store.manufacturing.get(id), undefined);
      assert.deepEqual(stack.observed(id), ['SUBMITTED', 'CANCELLED']);
    });

    it('refuses a cancel once manufacturing has started (no event, noted in the saga)', async () => {
      const template = smallOrders(stack.dataset, 3)[2]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id, { price: { amount_minor: 50_000, currency: 'EUR' } }));
      await stack.waitCrmStatus(id, ['MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED']);
      await stack.cancel(id);
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.history.some((h) => h.note?.startsWith('cancel refused')), 5_000, 'refusal');
      const order = await stack.waitCrmStatus(id, 'SHIPPED');
      assert.ok(!crmHistory(order).includes('CANCELLED'));
      assert.ok(!stack.observed(id).includes('CANCELLED'));
    });

    it('recognises a redelivered order.place: one CRM order, one price job', async () => {
      const template = smallOrders(stack.dataset, 4)[3]!;
      const id = stack.newOrderId();
      const command = placeCommand(template, id);
      const createsBefore = stack.crm.requests.get('POST /crm/orders');
      await Promise.all([stack.place(command, `dup-${id}`), stack.place(command, `dup-${id}`)]);
      // And once more later, under another message id (a publisher retry): resumes, repeats nothing.
      await stack.waitCrmStatus(id, ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'MANUFACTURING_STARTED']);
      await stack.place(command, `again-${id}`);
      const order = await stack.waitCrmStatus(id, 'SHIPPED');
      assert.deepEqual(crmHistory(order), FULL_LINE);
      assert.equal(stack.mes.store.prices.forOrder(id).length, 1);
      assert.ok(stack.crm.requests.get('POST /crm/orders') - createsBefore <= 2, 'the duplicate never reached the CRM');
      const state = await stack.adapters.sagaStore.load(id);
      assert.equal(state?.history.filter((h) => h.step === 'received').length, 1);
      assert.equal(state?.history.filter((h) => h.step === 'pricing').length, 1);
    });

    it('retries a step while the CRM is down, then completes', async () => {
      const template = smallOrders(stack.dataset, 5)[4]!;
      const id = stack.newOrderId();
      await stack.crm.faults.set({ down: true });
      try {
        await stack.place(placeCommand(template, id));
        await sleep(700); // several attempts fail meanwhile
        assert.equal(stack.crmOrder(id), undefined);
      } finally {
        await stack.crm.faults.set({ down: false });
      }
      const order = await stack.waitCrmStatus(id, 'SHIPPED', 15_000);
      assert.deepEqual(crmHistory(order), FULL_LINE);
      assert.deepEqual(await stack.deadLetters(SAGA_COMMANDS_QUEUE).then((d) => d.filter((x) => x.raw.includes(id))), []);
    });

    it('parks a malformed command and a permanently refused step with their reasons', async () => {
      await stack.bus.publish('commands', ROUTING.placeOrder, { id: `bad-${stack.tag}`, type: ROUTING.placeOrder, body: { order_id: 'ord_x' } });
      const template = smallOrders(stack.dataset, 6)[5]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id, { price: null }));
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.step === 'pricing', 5_000, 'pricing');
      await stack.cancel(id, 'x'.repeat(2_000)); // the CRM refuses a reason that long (400): no retry can fix it
      const dead = await waitFor(async () => {
        const list = await stack.deadLetters(SAGA_COMMANDS_QUEUE);
        return list.length >= 2 ? list : undefined;
      }, 5_000, 'dead letters');
      const malformed = dead.find((d) => d.id === `bad-${stack.tag}`);
      assert.match(malformed?.reason ?? '', /^invalid order\.place: /);
      const refused = dead.find((d) => d.id === `cancel:${id}`);
      assert.match(refused?.reason ?? '', /CRM refused status CANCELLED/);
      assert.equal(refused?.attempt, 1);
    });
  });

  describe(`order saga compensation on the ${kind} bus (MES full, pricing failing)`, () => {
    let stack: Stack;
    before(async () => {
      stack = await Stack.start({ kind, mes: { capacity: 0, priceFailRate: 1 }, adapters: { saga: { maxAttempts: 3, retryDelaysMs: [50, 100] } } });
    });
    after(() => stack.close());

    it('rejects with mes_capacity when MES has no capacity; REJECTED reverts the approval', async () => {
      const id = stack.newOrderId();
      await stack.place(placeCommand(smallOrders(stack.dataset, 1)[0]!, id, { price: { amount_minor: 9_900, currency: 'EUR' } }));
      const order = await stack.waitCrmStatus(id, 'REJECTED');
      assert.deepEqual(crmHistory(order), ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'REJECTED']);
      assert.equal(order.history?.at(-1)?.reason, 'mes_capacity');
      await waitFor(() => stack.observed(id).includes('REJECTED'), 2_000, 'event');
      assert.equal(stack.statuses.get(id)?.find((e) => e.status === 'REJECTED')?.reason, 'mes_capacity');
    });

    it('rejects with price_job_failed when the price job fails', async () => {
      const id = stack.newOrderId();
      await stack.place(placeCommand(smallOrders(stack.dataset, 1)[0]!, id));
      const order = await stack.waitCrmStatus(id, 'REJECTED');
      assert.deepEqual(crmHistory(order), ['SUBMITTED', 'REJECTED']);
      assert.equal(order.history?.at(-1)?.reason, 'price_job_failed');
    });

    it('parks a cancel for an order never placed after its attempts run out', async () => {
      await stack.bus.publish('commands', ROUTING.cancelOrder, {
        id: `cancel-ghost-${stack.tag}`,
        type: ROUTING.cancelOrder,
        body: { order_id: `ord_ghost_${stack.tag}`, seller_id: 'slr_0001', reason: 'x', requested_at: new Date().toISOString() },
      });
      const dead = await waitFor(async () => (await stack.deadLetters(SAGA_COMMANDS_QUEUE)).find((d) => d.id === `cancel-ghost-${stack.tag}`), 5_000, 'dead letter');
      assert.equal(dead.attempt, 3);
      assert.match(dead.reason, /retry.*after 3 attempts/);
    });
  });
}

for (const kind of ['memory', 'rabbit'] as StackKind[]) {
  describe(`order saga with MES events played by the test on the ${kind} bus`, () => {
    let stack: Stack;
    before(async () => {
      // The MES simulator publishes nothing here: the test plays its legacy events, in any order.
      stack = await Stack.start({ kind, mesEvents: false, mes: { cancelWindowSeconds: 1e7 } });
    });
    after(() => stack.close());

    const legacy = (orderId: string, modelId: string, status: string, previous: string | null) =>
      stack.bus.publish('events', 'mes.legacy.ManufacturingStatusChanged', {
        id: `mes:ManufacturingStatusChanged:${orderId}:${status}`,
        type: 'mes.legacy.ManufacturingStatusChanged',
        body: { type: 'ManufacturingStatusChanged', order_id: orderId, model_id: modelId, status, previous_status: previous, at: new Date().toISOString() },
      });
    const quoted = { price: { amount_minor: 7_700, currency: 'EUR' } } as const;

    it('fills in a skipped status, ignores late and repeated ones', async () => {
      const template = smallOrders(stack.dataset, 1)[0]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id, quoted));
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.step === 'manufacturing', 5_000, 'manufacturing requested');
      await legacy(id, template.model.id, 'PACKAGING', 'MANUFACTURING_COMPLETED');
      const packaging = await stack.waitCrmStatus(id, 'PACKAGING');
      assert.deepEqual(crmHistory(packaging), FULL_LINE.slice(0, 6));
      await legacy(id, template.model.id, 'MANUFACTURING_STARTED', null);
      await legacy(id, template.model.id, 'MANUFACTURING_COMPLETED', 'MANUFACTURING_STARTED');
      await legacy(id, template.model.id, 'PACKAGING', 'MANUFACTURING_COMPLETED');
      await legacy(id, template.model.id, 'SHIPPED', 'PACKAGING');
      const order = await stack.waitCrmStatus(id, 'SHIPPED');
      assert.deepEqual(crmHistory(order), FULL_LINE);
      await waitFor(() => stack.observed(id).length === FULL_LINE.length, 2_000, 'events');
      assert.deepEqual(stack.observed(id), FULL_LINE);
      assert.equal((await stack.adapters.sagaStore.load(id))?.step, 'completed');
    });

    it('cancels through MES while its manufacturing job has not been reported started', async () => {
      const template = smallOrders(stack.dataset, 2)[1]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id, quoted));
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.step === 'manufacturing', 5_000, 'manufacturing requested');
      assert.equal(stack.mes.store.manufacturing.get(id)?.status, 'MANUFACTURING_STARTED');
      await stack.cancel(id, 'wrong size');
      const order = await stack.waitCrmStatus(id, 'CANCELLED');
      assert.equal(order.history?.at(-1)?.reason, 'wrong size');
      assert.equal(stack.mes.store.manufacturing.get(id)?.status, 'CANCELLED');
      // MES's own report of the cancellation, arriving late, changes nothing.
      await legacy(id, template.model.id, 'CANCELLED', 'MANUFACTURING_STARTED');
      await legacy(id, template.model.id, 'MANUFACTURING_STARTED', null);
      await sleep(200);
      assert.deepEqual(crmHistory(stack.crmOrder(id)), ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'CANCELLED']);
    });

    it('follows a cancellation made in MES (mes_cancelled)', async () => {
      const template = smallOrders(stack.dataset, 3)[2]!;
      const id = stack.newOrderId();
      await stack.place(placeCommand(template, id, quoted));
      await waitFor(async () => (await stack.adapters.sagaStore.load(id))?.step === 'manufacturing', 5_000, 'manufacturing requested');
      await legacy(id, template.model.id, 'MANUFACTURING_STARTED', null);
      await stack.waitCrmStatus(id, 'MANUFACTURING_STARTED');
      await legacy(id, template.model.id, 'CANCELLED', 'MANUFACTURING_STARTED');
      const order = await stack.waitCrmStatus(id, 'CANCELLED');
      assert.equal(order.history?.at(-1)?.reason, 'mes_cancelled');
    });
  });
}
