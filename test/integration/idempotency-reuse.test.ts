// Idempotency-Key corner cases (issue 15, item 9):
// (a) a key reused for another order once its record is gone (expired after
//     24 h, or forgotten after an error) is never silently dropped: the order
//     id derives from the seller, the key and the body, so the saga (here the
//     real one, on RabbitMQ and Redis) places the new order;
// (b) a publisher confirm that never comes is not "nothing was recorded":
//     503 FACET_ERR_OUTCOME_UNKNOWN, the key stays bound to the request, and
//     the retry carries the same order id.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { Redis } from 'ioredis';
import type { PlaceOrderCommand } from '../../contracts/messages.ts';
import { BusTimeoutError, createBus, waitForConnection, type Bus, type BusMessage, type RabbitBus } from '../../platform/bus/index.ts';
import { startAdapters, type Adapters } from '../../adapters/start.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { binaryStl } from '../helpers/models.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' }; // slr_0002
const customer = { name: 'Ana Martin', email: 'ana.martin@example.com' };
const shipping = { name: 'Ana Martin', line1: '12 Rue Test', city: 'Paris', postal_code: '75001', country: 'FR' };
const parameters = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' };

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the key's expiry (24 h) or a crash leaves: no record of the seller's keys. */
async function forgetKeys(sellerId: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    for (const key of await redis.keys(`facet:idem:${sellerId}:*`)) await redis.del(key);
  } finally {
    redis.disconnect();
  }
}

describe('a reused Idempotency-Key never yields a silent drop (gateway + saga on RabbitMQ)', () => {
  const prefix = uniquePrefix();
  let bus: Bus;
  let stack: Stack;
  let adapters: Adapters;
  let modelId = '';

  before(async () => {
    await clearRedis();
    bus = createBus({ url: AMQP_URL, prefix, logger: testLogger });
    await waitForConnection(bus, 10_000);
    stack = await startStack({ redisUrl: REDIS_URL, bus });
    adapters = await startAdapters({ bus, store: stack.gateway.services.state, crmUrl: stack.crm.url, mesUrl: stack.mes.url, logger: testLogger });
    modelId = (await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').send(binaryStl(40, 9)).expect(201)).body.id;
  });
  after(async () => {
    await adapters.close();
    await stack.close();
    const door = await RabbitSideDoor.open((bus as RabbitBus).topology);
    await door.cleanup();
    await bus.close();
  });

  it('the key reused with another body after its record is gone places a second order under another id, carried out by the saga', async () => {
    const first = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'reuse-1').send({ model_id: modelId, parameters, customer, shipping }).expect(202);
    await until('the first order in the CRM', () => stack.crm.store.getOrder(first.body.id));
    // Within the key's life, another body is refused.
    const refused = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'reuse-1').send({ model_id: modelId, parameters, customer: { ...customer, name: 'Bea Costa' }, shipping });
    assertProblem(refused, 422, 'FACET_ERR_IDEMPOTENCY_KEY_REUSED');

    await forgetKeys('slr_0002');
    const corrected = { model_id: modelId, parameters: { ...parameters, size_mm: 19 }, customer: { ...customer, name: 'Bea Costa' }, shipping };
    const second = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'reuse-1').send(corrected).expect(202);
    assert.notEqual(second.body.id, first.body.id, 'another order id: the saga must not take it for the first order');
    const placed = await until('the second order in the CRM', () => stack.crm.store.getOrder(second.body.id));
    assert.equal(placed.customer.name, 'Bea Costa');
    assert.equal(placed.parameters.size_mm, 19);
    assert.equal(stack.crm.store.getOrder(first.body.id)?.customer.name, 'Ana Martin', 'the first order is untouched');

    // The same request again once the key is gone: the same order, not a third.
    await forgetKeys('slr_0002');
    const again = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'reuse-1').send(corrected).expect(202);
    assert.equal(again.body.id, second.body.id);
  });
});

describe('a publisher confirm that never comes: the outcome is unknown, never "nothing was recorded"', () => {
  let stack: Stack;
  let modelId = '';
  const consumed: BusMessage[] = [];

  before(async () => {
    await clearRedis();
    stack = await startStack({ redisUrl: REDIS_URL });
    await stack.gateway.services.bus.consume({ queue: 'test.unknown-outcome', bindings: [{ exchange: 'commands', pattern: 'order.*' }] }, async ({ message }) => {
      consumed.push(message);
      return 'ack';
    });
    modelId = (await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').send(binaryStl(30, 4)).expect(201)).body.id;
  });
  after(() => stack.close());

  it('503 FACET_ERR_OUTCOME_UNKNOWN; the key stays bound (another body → 422); the retry carries the same order id', async () => {
    const bus = stack.gateway.services.bus;
    const publish = bus.publish.bind(bus);
    const attempted: string[] = [];
    // A bus whose confirm never arrives; the message itself may or may not have reached the broker.
    bus.publish = async (_exchange, _key, message) => {
      attempted.push(message.id);
      throw new BusTimeoutError(50);
    };
    const body = { model_id: modelId, parameters, customer, shipping };
    let unknown;
    try {
      unknown = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'confirm-lost').send(body);
    } finally {
      bus.publish = publish;
    }
    const problem = assertProblem(unknown, 503, 'FACET_ERR_OUTCOME_UNKNOWN');
    assert.ok(Number(unknown.headers['retry-after']) >= 1);
    assert.doesNotMatch(String(problem.detail), /nothing was recorded/i);
    assert.match(String(problem.detail), /same Idempotency-Key/);
    assert.equal(attempted.length, 1);

    const other = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'confirm-lost').send({ ...body, customer: { ...customer, name: 'Someone Else' } });
    assertProblem(other, 422, 'FACET_ERR_IDEMPOTENCY_KEY_REUSED');

    const retry = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'confirm-lost').send(body).expect(202);
    assert.equal(retry.body.id, attempted[0], 'the retry is the same order, not a second one');
    await until('the command', () => consumed.find((m) => m.id === retry.body.id));
    assert.equal((consumed.find((m) => m.id === retry.body.id)?.body as PlaceOrderCommand).order_id, attempted[0]);
    // And from now on it is an ordinary done key: the first answer again.
    const replayed = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'confirm-lost').send(body).expect(202);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.equal(replayed.body.id, retry.body.id);
  });
});
