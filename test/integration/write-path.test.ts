// The gateway's write side against the real simulators and Redis, with a
// stand-in consumer of the commands (the saga has its own tests).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { Delivery } from '../../platform/bus/index.ts';
import type { PlaceOrderCommand } from '../../contracts/messages.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { binaryStl, objModel } from '../helpers/models.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' };
const FREE = { 'X-API-Key': 'demo-free-key' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const customer = { name: 'Ana Martin', email: 'ana.martin@example.com' };
const shipping = { name: 'Ana Martin', line1: '12 Rue Test', city: 'Paris', postal_code: '75001', country: 'FR' };
const parameters = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' };

describe('write path: models, quotes, orders (gateway side)', () => {
  let stack: Stack;
  const commands: Delivery[] = [];
  let modelId = '';

  before(async () => {
    await clearRedis();
    stack = await startStack({
      redisUrl: REDIS_URL,
      mutateConfig: (doc) => {
        doc.plans.free.uploadMaxBytes = 10_000;
        doc.plans.free.rate = { perSecond: 100, burst: 100 };
        // Orders without a quote hold a price-job slot, and the stand-in saga below never prices them.
        doc.plans.standard.concurrentPriceJobs = 100;
        doc.plans.enterprise.concurrentPriceJobs = 100;
      },
    });
    await stack.gateway.services.bus.consume({ queue: 'test.saga', bindings: [{ exchange: 'commands', pattern: 'order.*' }] }, async (d) => {
      commands.push(d);
      return 'ack';
    });
  });
  after(() => stack.close());

  describe('POST /v1/models', () => {
    it('streams a binary STL to the MES and answers its id and SHA-256', async () => {
      const file = binaryStl(200);
      const res = await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').set('X-Filename', '../../etc/ring.stl').send(file).expect(201);
      assert.match(res.body.id, /^mdl_[0-9a-z]{8,32}$/);
      assert.equal(res.body.sha256, createHash('sha256').update(file).digest('hex'));
      assert.equal(res.body.format, 'stl');
      assert.equal(res.body.polygons, 200);
      assert.equal(res.body.filename, 'ring.stl');
      modelId = res.body.id;
    });
    it('checks the format by content, not by name', async () => {
      const res = await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'application/octet-stream').set('X-Filename', 'ring.stl').send(Buffer.from('%PDF-1.4 not a model'));
      assertProblem(res, 415, 'FACET_ERR_UNSUPPORTED_MODEL');
      const obj = await request(stack.url).post('/v1/models').set(PRO).set('content-type', 'model/obj').send(objModel(10)).expect(201);
      assert.equal(obj.body.format, 'obj');
    });
    it('the plan’s size cap answers 413 early (Content-Length) and while streaming (chunked)', async () => {
      const big = binaryStl(400); // 20 084 bytes > 10 000 (free plan here)
      const before = stack.mes.requests.get('POST /mes/models');
      assertProblem(await request(stack.url).post('/v1/models').set(FREE).set('content-type', 'application/octet-stream').send(big), 413, 'FACET_ERR_BODY_TOO_LARGE');
      assert.equal(stack.mes.requests.get('POST /mes/models'), before, 'refused before the MES was called');
      const { port } = new URL(stack.url);
      const chunked = await fetch(`http://127.0.0.1:${port}/v1/models`, {
        method: 'POST',
        headers: { ...FREE, 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(binaryStl(400).subarray(i * 4000, (i + 1) * 4000)));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(chunked.status, 413);
    });
  });

  describe('quotes', () => {
    it('a new model and parameters → 202 with Location and Retry-After; then ready; the same again → 200 at once', async () => {
      const created = await request(stack.url).post('/v1/quotes').set(PRO).send({ model_id: modelId, parameters }).expect(202);
      assert.equal(created.headers.location, `/v1/quotes/${created.body.id}`);
      assert.ok(Number(created.headers['retry-after']) >= 1);
      assert.equal(created.body.status, 'pending');
      let quote = created.body;
      for (let i = 0; i < 100 && quote.status === 'pending'; i++) {
        await sleep(100);
        quote = (await request(stack.url).get(created.headers.location ?? '').set(PRO).expect(200)).body;
      }
      assert.equal(quote.status, 'ready');
      assert.ok(quote.price.amount_minor > 0);
      const again = await request(stack.url).post('/v1/quotes').set(PRO).send({ model_id: modelId, parameters }).expect(200);
      assert.equal(again.body.status, 'ready');
      assert.deepEqual(again.body.price, quote.price);
    });
    it('another seller’s model or quote is a 404', async () => {
      assertProblem(await request(stack.url).post('/v1/quotes').set(FREE).send({ model_id: modelId, parameters }), 404, 'FACET_ERR_NOT_FOUND');
      const mine = await request(stack.url).post('/v1/quotes').set(PRO).send({ model_id: modelId, parameters }).expect(200);
      assertProblem(await request(stack.url).get(`/v1/quotes/${mine.body.id}`).set(FREE), 404, 'FACET_ERR_NOT_FOUND');
    });
    it('a known price is not shared across sellers: the same file quoted by another seller starts its own price job', async () => {
      // modelId's content was priced for PRO above; another seller uploads the very same bytes.
      const ENTERPRISE = { 'X-API-Key': 'demo-enterprise-key' };
      const same = await request(stack.url).post('/v1/models').set(ENTERPRISE).set('content-type', 'application/octet-stream').send(binaryStl(200)).expect(201);
      const quote = await request(stack.url).post('/v1/quotes').set(ENTERPRISE).send({ model_id: same.body.id, parameters }).expect(202);
      assert.equal(quote.body.price, null);
      await request(stack.url).post('/v1/quotes').set(PRO).send({ model_id: modelId, parameters }).expect(200);
    });
    it('concurrent price jobs are capped by plan', async () => {
      const free = await request(stack.url).post('/v1/models').set(FREE).set('content-type', 'application/octet-stream').send(binaryStl(50, 7)).expect(201);
      const sizes = [10, 11, 12];
      const answers = await Promise.all(sizes.map((size_mm) => request(stack.url).post('/v1/quotes').set(FREE).send({ model_id: free.body.id, parameters: { ...parameters, size_mm } })));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [202, 429, 429], 'free plan: 1 price job at a time');
      assertProblem(answers.find((a) => a.status === 429) as never, 429, 'FACET_ERR_PRICE_JOBS_LIMIT');
    });
  });

  describe('POST /v1/orders', () => {
    const order = () => ({ model_id: modelId, parameters, customer, shipping });

    it('needs an Idempotency-Key', async () => {
      const res = await request(stack.url).post('/v1/orders').set(PRO).send(order());
      assertProblem(res, 400, 'FACET_ERR_IDEMPOTENCY_KEY_MISSING');
    });

    it('202 + Location once the broker confirmed; the command carries the order; GET shows it pending', async () => {
      const res = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-1').send(order()).expect(202);
      assert.equal(res.headers.location, `/v1/orders/${res.body.id}`);
      assert.equal(res.body.status, 'SUBMITTED');
      await sleep(50);
      const command = commands.find((c) => c.message.id === res.body.id);
      assert.ok(command, 'order.place published');
      assert.equal((command.message.body as PlaceOrderCommand).seller_id, 'slr_0002');
      const read = await request(stack.url).get(res.headers.location ?? '').set(PRO).expect(200);
      assert.equal(read.body.id, res.body.id);
      assertProblem(await request(stack.url).get(res.headers.location ?? '').set(FREE), 404, 'FACET_ERR_NOT_FOUND');
    });

    it('same key and body → the first answer again; other body → 422; 10 concurrent → one order', async () => {
      const first = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-2').send(order()).expect(202);
      const again = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-2').send(order()).expect(202);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.location, first.headers.location);
      const other = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-2').send({ ...order(), customer: { ...customer, name: 'Someone Else' } });
      assertProblem(other, 422, 'FACET_ERR_IDEMPOTENCY_KEY_REUSED');

      const before = commands.length;
      const burst = await Promise.all(Array.from({ length: 10 }, () => request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-3').send(order())));
      const ok = burst.filter((r) => r.status === 202);
      assert.ok(ok.length >= 1);
      assert.ok(burst.every((r) => r.status === 202 || r.status === 409), JSON.stringify(burst.map((r) => r.status)));
      assert.equal(new Set(ok.map((r) => r.body.id)).size, 1, 'one order id');
      await sleep(50);
      assert.equal(commands.length - before, 1, 'one command');
    });

    it('the key is per seller', async () => {
      const ENTERPRISE = { 'X-API-Key': 'demo-enterprise-key' }; // (the free plan's one price-job slot is held by a quote above)
      const otherModel = await request(stack.url).post('/v1/models').set(ENTERPRISE).set('content-type', 'application/octet-stream').send(binaryStl(20, 3)).expect(201);
      await request(stack.url).post('/v1/orders').set(ENTERPRISE).set('Idempotency-Key', 'order-1').send({ ...order(), model_id: otherModel.body.id }).expect(202);
    });

    it('a replica that died between the confirm and the answer: once the key is free again, the retry carries the same order id', async () => {
      const first = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-crash').send(order()).expect(202);
      // What a crash leaves once the in-flight hold has expired: no record of the key.
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL);
      try {
        for (const key of await redis.keys('facet:idem:slr_0002:*')) await redis.del(key);
      } finally {
        redis.disconnect();
      }
      const retry = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-crash').send(order()).expect(202);
      assert.equal(retry.body.id, first.body.id, 'the saga sees the same order again, not a second one');
      const other = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-crash-2').send(order()).expect(202);
      assert.notEqual(other.body.id, first.body.id);
      await sleep(50);
      assert.equal(new Set(commands.filter((c) => c.message.id === first.body.id).map((c) => c.message.id)).size, 1);
    });

    it('mass assignment is rejected: price, status, seller_id in the body → 400', async () => {
      for (const extra of [{ price: { amount_minor: 1, currency: 'EUR' } }, { status: 'SHIPPED' }, { seller_id: 'slr_0001' }]) {
        const res = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', `mass-${Object.keys(extra)[0]}`).send({ ...order(), ...extra });
        assertProblem(res, 400, 'FACET_ERR_VALIDATION');
      }
    });

    it('broker unavailable → 503 with Retry-After and nothing recorded; the same key works afterwards', async () => {
      const bus = stack.gateway.services.bus;
      const publish = bus.publish.bind(bus);
      const { BusUnavailableError } = await import('../../platform/bus/index.ts');
      bus.publish = async () => {
        throw new BusUnavailableError('test: broker down');
      };
      const before = commands.length;
      try {
        const res = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-down').send(order());
        assertProblem(res, 503, 'FACET_ERR_BUS_UNAVAILABLE');
        assert.ok(res.headers['retry-after']);
      } finally {
        bus.publish = publish;
      }
      const retried = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-down').send(order()).expect(202);
      await sleep(50);
      assert.equal(commands.length - before, 1);
      assert.ok(retried.body.id);
    });

    it('cancel: 202 while not manufacturing, 404 for another seller, 409 once manufacturing started', async () => {
      const placed = await request(stack.url).post('/v1/orders').set(PRO).set('Idempotency-Key', 'order-cancel').send(order()).expect(202);
      const res = await request(stack.url).post(`/v1/orders/${placed.body.id}/cancel`).set(PRO).send({ reason: 'customer changed their mind' }).expect(202);
      assert.equal(res.body.cancellation, 'requested');
      assertProblem(await request(stack.url).post(`/v1/orders/${placed.body.id}/cancel`).set(FREE).send({}), 404, 'FACET_ERR_NOT_FOUND');
      const started = stack.crm.store.listOrders({ sellerId: 'slr_0002', statuses: new Set(['MANUFACTURING_STARTED']), limit: 1 }).items[0];
      assert.ok(started);
      assertProblem(await request(stack.url).post(`/v1/orders/${started.id}/cancel`).set(PRO).send({}), 409, 'FACET_ERR_ORDER_NOT_CANCELLABLE');
    });
  });
});
