// The plan's concurrentPriceJobs counts every MES price job a seller starts:
// a quote, and an order placed with model_id + parameters (the saga prices
// it). Issue 15, item 10.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { OrderStatusChangedEvent } from '../../contracts/messages.ts';
import { ROUTING } from '../../contracts/messages.ts';
import { records } from '../../gateway/operations/records.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { binaryStl } from '../helpers/models.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const FREE = { 'X-API-Key': 'demo-free-key' }; // free plan: 1 price job at a time
const customer = { name: 'Ana Martin', email: 'ana.martin@example.com' };
const shipping = { name: 'Ana Martin', line1: '12 Rue Test', city: 'Paris', postal_code: '75001', country: 'FR' };
const parameters = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' };

async function until(what: string, check: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('price-job cap: orders without a quote count', () => {
  let stack: Stack;
  let modelId = '';

  before(async () => {
    await clearRedis();
    stack = await startStack({ redisUrl: REDIS_URL, mutateConfig: (doc) => void (doc.plans.free.rate = { perSecond: 100, burst: 100 }) });
    // A stand-in for the saga: takes the commands, does nothing.
    await stack.gateway.services.bus.consume({ queue: 'test.price-cap-saga', bindings: [{ exchange: 'commands', pattern: 'order.*' }] }, async () => 'ack');
    modelId = (await request(stack.url).post('/v1/models').set(FREE).set('content-type', 'application/octet-stream').send(binaryStl(30, 5)).expect(201)).body.id;
  });
  after(() => stack.close());

  it('an order with model_id + parameters takes the slot: a quote and a second such order → 429 with Retry-After', async () => {
    const placed = await request(stack.url).post('/v1/orders').set(FREE).set('Idempotency-Key', 'cap-1').send({ model_id: modelId, parameters, customer, shipping }).expect(202);
    const quote = await request(stack.url).post('/v1/quotes').set(FREE).send({ model_id: modelId, parameters: { ...parameters, size_mm: 12 } });
    assertProblem(quote, 429, 'FACET_ERR_PRICE_JOBS_LIMIT');
    assert.ok(Number(quote.headers['retry-after']) >= 1);
    const second = await request(stack.url).post('/v1/orders').set(FREE).set('Idempotency-Key', 'cap-2').send({ model_id: modelId, parameters: { ...parameters, size_mm: 13 }, customer, shipping });
    assertProblem(second, 429, 'FACET_ERR_PRICE_JOBS_LIMIT');
    assert.ok(Number(second.headers['retry-after']) >= 1);
    assert.match(second.headers['content-type'] ?? '', /^application\/problem\+json/);
    // The same order again (a retry) takes no second slot: the first answer again.
    const again = await request(stack.url).post('/v1/orders').set(FREE).set('Idempotency-Key', 'cap-1').send({ model_id: modelId, parameters, customer, shipping }).expect(202);
    assert.equal(again.body.id, placed.body.id);

    // The order is priced: its slot is free again, and a new price job is admitted.
    const priced: OrderStatusChangedEvent = { order_id: placed.body.id, seller_id: 'slr_0001', status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null, at: new Date().toISOString() };
    await stack.gateway.services.bus.publish('events', ROUTING.statusChanged, { id: `test:${placed.body.id}:priced`, type: ROUTING.statusChanged, body: priced });
    let admitted = 0;
    await until('the price-job slot to be freed', async () => {
      admitted = (await request(stack.url).post('/v1/orders').set(FREE).set('Idempotency-Key', 'cap-3').send({ model_id: modelId, parameters: { ...parameters, size_mm: 14 }, customer, shipping })).status;
      return admitted !== 429;
    });
    assert.equal(admitted, 202);
  });

  it('an order for a model that is not the seller\'s answers 404 and holds no slot (the model and the slot are asked of Redis together)', async () => {
    const { services } = stack.gateway;
    // A seller whose plan has free slots (standard: 5), so a leaked slot would show.
    const key = records.priceJobs.key('slr_0002');
    const before = await services.state.countLive(key);
    for (let i = 0; i < 3; i++) {
      const res = await request(stack.url).post('/v1/orders').set({ 'x-api-key': 'demo-pro-key' }).set('Idempotency-Key', `cap-404-${i}`).send({ model_id: `mdl_nosuchmodel${i}`, parameters, customer, shipping });
      assertProblem(res, 404, 'FACET_ERR_NOT_FOUND');
    }
    assert.equal(await services.state.countLive(key), before, 'no price-job slot left behind by the refused orders');
  });
});
