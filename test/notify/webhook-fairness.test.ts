// Webhook fairness (issue 15, item 11), on RabbitMQ and Redis:
// - one seller with a black-hole endpoint and a backlog of deliveries does
//   not hold up another seller's delivery (per-seller in-flight cap in the
//   delivery consumer, the excess deferred);
// - replays are capped per subscription per window (429 + Retry-After);
// - the 10-subscriptions-per-seller cap holds under parallel creates, on
//   Redis and on the in-process store.

import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { ROUTING, type OrderStatusChangedEvent } from '../../contracts/messages.ts';
import { RedisWebhookStore, type WebhookStore } from '../../platform/webhooks/store.ts';
import { startWebhooks, type Webhooks } from '../../adapters/webhooks/start.ts';
import { createRedis } from '../../platform/redis.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const FREE = { 'X-API-Key': 'demo-free-key' }; // slr_0001: the black hole
const PRO = { 'X-API-Key': 'demo-pro-key' }; // slr_0002: an ordinary receiver
const ENTERPRISE = { 'X-API-Key': 'demo-enterprise-key' }; // slr_0003
const BACKLOG = 300;
const RESPONSE_TIMEOUT_MS = 3_000;
const policy = { requireHttps: false, allowLoopback: true };

async function until(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function roomy(doc: Record<string, any>): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const plan of Object.values(doc.plans) as Record<string, unknown>[]) plan.rate = { perSecond: 10_000, burst: 10_000 };
}

describe('webhook deliveries are fair between sellers; replays are capped', () => {
  const prefix = uniquePrefix();
  let bus: Bus;
  let stack: Stack;
  let webhooks: Webhooks;
  let store: WebhookStore;
  let redis: ReturnType<typeof createRedis>;
  let blackHole: TcpServer;
  const held: Socket[] = [];
  let receiver: Server;
  const arrivals: { body: string; at: number }[] = [];
  let holeUrl = '';
  let goodUrl = '';
  let sequence = 0;

  const event = (sellerId: string) => {
    const orderId = `ord_fair${String(++sequence).padStart(6, '0')}`;
    const body: OrderStatusChangedEvent = { order_id: orderId, seller_id: sellerId, status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null, at: new Date().toISOString() };
    return { id: `${orderId}:PRICE_CALCULATED`, type: ROUTING.statusChanged, body };
  };

  before(async () => {
    await clearRedis();
    // Accepts connections and never answers: every attempt holds its slot for the whole response timeout.
    blackHole = createTcpServer((socket) => void held.push(socket));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    const holeAddress = blackHole.address();
    holeUrl = `http://127.0.0.1:${typeof holeAddress === 'object' && holeAddress ? holeAddress.port : 0}/hooks`;
    receiver = createHttpServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        arrivals.push({ body, at: Date.now() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const address = receiver.address();
    goodUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks`;

    bus = createBus({ url: AMQP_URL, prefix, logger: testLogger });
    await waitForConnection(bus, 10_000);
    stack = await startStack({ redisUrl: REDIS_URL, bus, webhookPolicy: policy, mutateConfig: roomy });
    redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
    store = new RedisWebhookStore(redis);
    webhooks = await startWebhooks({
      bus,
      store,
      policy,
      retryDelaysMs: [60_000], // a failed attempt does not come back during the test
      maxAttempts: 3,
      sender: { connectTimeoutMs: 500, responseTimeoutMs: RESPONSE_TIMEOUT_MS, maxResponseBytes: 1_024 },
      fairness: { perSellerInFlight: 4, deferMs: 1_000 },
    });
  });

  after(async () => {
    for (const socket of held) socket.destroy();
    await webhooks.close();
    await stack.close();
    const door = await RabbitSideDoor.open((bus as RabbitBus).topology);
    await door.cleanup();
    await bus.close();
    redis.disconnect();
    await new Promise((r) => blackHole.close(r));
    await new Promise((r) => receiver.close(r));
  });

  it(`a seller with a black-hole endpoint and ${BACKLOG} deliveries waiting does not hold up another seller’s delivery`, { timeout: 120_000 }, async () => {
    const hole = (await request(stack.url).post('/v1/webhooks').set(FREE).send({ url: holeUrl }).expect(201)).body as { id: string };
    await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: goodUrl }).expect(201);
    for (let i = 0; i < BACKLOG; i++) await bus.publish('events', ROUTING.statusChanged, event('slr_0001'));
    await until(`${BACKLOG} deliveries for the black hole`, async () => (await store.listDeliveries(hole.id, BACKLOG)).length >= BACKLOG, 60_000);

    const mine = event('slr_0002');
    const sent = Date.now();
    await bus.publish('events', ROUTING.statusChanged, mine);
    // Without fairness the delivery waits behind the backlog: 32 slots held ~3 s each, ~25 s here.
    await until('the other seller’s delivery', () => arrivals.some((a) => a.body.includes(mine.body.order_id)), 10_000);
    const waited = (arrivals.find((a) => a.body.includes(mine.body.order_id))?.at ?? Date.now()) - sent;
    assert.ok(waited < 10_000, `delivered ${waited} ms after its event`);
  });

  it('replays are capped per subscription: 20 per 10 minutes, then 429 with Retry-After', async () => {
    const subscription = (await request(stack.url).get('/v1/webhooks').set(PRO).expect(200)).body.items[0] as { id: string };
    await until('a delivery to replay', async () => (await store.listDeliveries(subscription.id, 1)).length > 0);
    const [delivery] = await store.listDeliveries(subscription.id, 1);
    const path = `/v1/webhooks/${subscription.id}/deliveries/${delivery!.id}/replay`;
    for (let i = 0; i < 20; i++) await request(stack.url).post(path).set(PRO).expect(202);
    const refused = await request(stack.url).post(path).set(PRO);
    assertProblem(refused, 429, 'FACET_ERR_REPLAY_LIMIT');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 600, `Retry-After ${refused.headers['retry-after']}`);
  });

  it('parallel creates never pass 10 subscriptions per seller (Redis)', async () => {
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => request(stack.url).post('/v1/webhooks').set(ENTERPRISE).send({ url: `${goodUrl}?n=${i}` })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array(10).fill(201), ...Array(6).fill(409)]);
    assertProblem(answers.find((a) => a.status === 409) as never, 409, 'FACET_ERR_WEBHOOK_LIMIT');
    assert.equal((await request(stack.url).get('/v1/webhooks').set(ENTERPRISE).expect(200)).body.items.length, 10);
  });
});

describe('the subscription cap on the in-process store', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ webhookPolicy: policy, mutateConfig: roomy });
  });
  after(() => stack.close());

  it('parallel creates never pass 10 subscriptions per seller (in process)', async () => {
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => request(stack.url).post('/v1/webhooks').set(ENTERPRISE).send({ url: `http://127.0.0.1:9/hooks?n=${i}` })));
    assert.equal(answers.filter((a) => a.status === 201).length, 10, JSON.stringify(answers.map((a) => a.status)));
    assert.equal((await request(stack.url).get('/v1/webhooks').set(ENTERPRISE).expect(200)).body.items.length, 10);
  });
});
