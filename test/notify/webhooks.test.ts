// Sellers' webhooks end to end on RabbitMQ and Redis, receivers on loopback:
// registration (secret once, BOLA), signed deliveries that a flaky receiver
// gets with the same webhook-id until it accepts (verified by our own HMAC
// and by the standardwebhooks library), a dead receiver's delivery in the
// dead letters, replay, secret rotation with two signatures, a settled
// quote's `quote.settled` (once, however it was settled), and bad input.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6379/7 npx node --import tsx --test test/notify/webhooks.test.ts

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { ROUTING, type OrderStatusChangedEvent, type QuoteFinishedEvent } from '../../contracts/messages.ts';
import { RedisWebhookStore } from '../../platform/webhooks/store.ts';
import { startWebhooks, type Webhooks } from '../../adapters/webhooks/start.ts';
import { records } from '../../gateway/operations/records.ts';
import { createRedis } from '../../platform/redis.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { binaryStl } from '../helpers/models.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';

const PRO = { 'X-API-Key': 'demo-pro-key' }; // slr_0002
const FREE = { 'X-API-Key': 'demo-free-key' }; // slr_0001
const ENTERPRISE = { 'X-API-Key': 'demo-enterprise-key' }; // slr_0003
const MAX_ATTEMPTS = 4;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Our own Standard Webhooks check: HMAC-SHA256 over id.timestamp.body with the secret's bytes. */
function signatureOf(secret: string, id: string, timestamp: string, body: string): string {
  return createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64');
}

describe('sellers’ webhooks', () => {
  const prefix = uniquePrefix();
  let bus: Bus;
  let stack: Stack;
  let webhooks: Webhooks;
  let redis: ReturnType<typeof createRedis>;
  let receiver: Server;
  let base = '';
  const received: Received[] = [];
  let flakyFailures = 3;
  let door: RabbitSideDoor | undefined;
  let sequence = 0;

  const waitFor = async (check: () => boolean, timeoutMs = 10_000, label = 'condition') => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const statusEvent = (sellerId: string, status: OrderStatusChangedEvent['status'] = 'PRICE_CALCULATED') => {
    const orderId = `ord_webhook${String(++sequence).padStart(4, '0')}`;
    const body: OrderStatusChangedEvent = { order_id: orderId, seller_id: sellerId, status, previous_status: 'SUBMITTED', reason: null, at: new Date().toISOString() };
    return { id: `${orderId}:${status}`, type: ROUTING.statusChanged, body };
  };
  const publish = (event: ReturnType<typeof statusEvent>) => bus.publish('events', ROUTING.statusChanged, event);
  const subscribe = async (key: Record<string, string>, path: string) => (await request(stack.url).post('/v1/webhooks').set(key).send({ url: `${base}${path}` }).expect(201)).body as { id: string; secret: string };
  const forOrder = (orderId: string) => received.filter((r) => r.body.includes(orderId));

  before(async () => {
    await clearRedis();
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.url === '/flaky' && flakyFailures-- > 0) res.writeHead(503).end('not yet');
        else if (req.url === '/dead') res.writeHead(500).end('broken');
        else if (req.url === '/redirect') res.writeHead(302, { location: `${base}/ok` }).end();
        else res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const address = receiver.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    bus = createBus({ url: AMQP_URL, prefix, logger: testLogger });
    await waitForConnection(bus, 10_000);
    const policy = { requireHttps: false, allowLoopback: true };
    stack = await startStack({ redisUrl: REDIS_URL, bus, webhookPolicy: policy });
    redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
    webhooks = await startWebhooks({
      bus,
      store: new RedisWebhookStore(redis),
      policy,
      retryDelaysMs: [50, 100, 150],
      maxAttempts: MAX_ATTEMPTS,
      sender: { connectTimeoutMs: 500, responseTimeoutMs: 1_000, maxResponseBytes: 1_024 },
    });
  });

  after(async () => {
    await webhooks.close();
    await stack.close();
    door ??= await RabbitSideDoor.open((bus as RabbitBus).topology);
    await door.cleanup();
    await bus.close();
    redis.disconnect();
    await new Promise((r) => receiver.close(r));
  });

  it('registers with a secret shown once; lists without it; another seller sees none of it (404)', async () => {
    const created = await request(stack.url).post('/v1/webhooks').set(FREE).send({ url: `${base}/ok`, description: 'shop' }).expect(201);
    assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(created.headers.location, `/v1/webhooks/${created.body.id}`);
    const list = await request(stack.url).get('/v1/webhooks').set(FREE).expect(200);
    assert.deepEqual(list.body.items.map((w: { id: string }) => w.id), [created.body.id]);
    assert.ok(!JSON.stringify(list.body).includes('whsec_'), 'no secret in the list');
    assert.deepEqual((await request(stack.url).get('/v1/webhooks').set(ENTERPRISE).expect(200)).body.items, []);
    assertProblem(await request(stack.url).get(`/v1/webhooks/${created.body.id}/deliveries`).set(ENTERPRISE), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).post(`/v1/webhooks/${created.body.id}/rotate-secret`).set(ENTERPRISE).send({}), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).delete(`/v1/webhooks/${created.body.id}`).set(ENTERPRISE), 404, 'FACET_ERR_NOT_FOUND');
    await request(stack.url).delete(`/v1/webhooks/${created.body.id}`).set(FREE).expect(204);
    assert.deepEqual((await request(stack.url).get('/v1/webhooks').set(FREE).expect(200)).body.items, []);
  });

  it('a flaky receiver (3 failures) gets the event exactly as signed, with the same webhook-id each time; other sellers’ events never reach it', async () => {
    flakyFailures = 3;
    const { id, secret } = await subscribe(PRO, '/flaky');
    const other = statusEvent('slr_0001');
    await publish(other);
    const event = statusEvent('slr_0002');
    await publish(event);
    await waitFor(() => forOrder(event.body.order_id).length >= 4, 10_000, 'four attempts');
    const attempts = forOrder(event.body.order_id);
    assert.equal(attempts.length, 4);
    const ids = new Set(attempts.map((a) => a.headers['webhook-id']));
    assert.equal(ids.size, 1, 'one webhook-id');
    assert.equal(new Set(attempts.map((a) => a.body)).size, 1, 'the same body');
    const verifier = new Webhook(secret);
    for (const attempt of attempts) {
      const { 'webhook-id': wid, 'webhook-timestamp': ts, 'webhook-signature': sig } = attempt.headers as Record<string, string>;
      assert.equal(sig, `v1,${signatureOf(secret, wid as string, ts as string, attempt.body)}`, 'our own HMAC');
      assert.deepEqual(verifier.verify(attempt.body, { 'webhook-id': wid as string, 'webhook-timestamp': ts as string, 'webhook-signature': sig as string }), JSON.parse(attempt.body));
    }
    assert.deepEqual(JSON.parse(attempts[0]?.body ?? '{}'), {
      type: 'order.status_changed',
      timestamp: event.body.at,
      data: { order_id: event.body.order_id, status: 'PRICE_CALCULATED', previous_status: 'SUBMITTED', reason: null, at: event.body.at },
    });
    assert.equal(forOrder(other.body.order_id).length, 0, 'slr_0001’s event is not sent to slr_0002');

    let log = (await request(stack.url).get(`/v1/webhooks/${id}/deliveries`).set(PRO).expect(200)).body.items;
    for (let i = 0; i < 50 && log[0]?.status !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      log = (await request(stack.url).get(`/v1/webhooks/${id}/deliveries`).set(PRO).expect(200)).body.items;
    }
    assert.equal(log.length, 1);
    assert.equal(log[0].id, [...ids][0]);
    assert.equal(log[0].status, 'succeeded');
    assert.deepEqual(log[0].attempts.map((a: { status_code: number }) => a.status_code), [503, 503, 503, 200]);

    // Replay: sent again, same webhook-id, signed anew.
    await request(stack.url).post(`/v1/webhooks/${id}/deliveries/${log[0].id}/replay`).set(PRO).expect(202);
    await waitFor(() => forOrder(event.body.order_id).length >= 5, 5_000, 'the replay');
    assert.equal(forOrder(event.body.order_id)[4]?.headers['webhook-id'], log[0].id);
    assertProblem(await request(stack.url).post(`/v1/webhooks/${id}/deliveries/msg_unknown0000/replay`).set(PRO), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).post(`/v1/webhooks/${id}/deliveries/${log[0].id}/replay`).set(ENTERPRISE), 404, 'FACET_ERR_NOT_FOUND');
    await request(stack.url).delete(`/v1/webhooks/${id}`).set(PRO).expect(204);
  });

  it('a dead receiver’s delivery ends in the dead letters after the last attempt, marked failed', async () => {
    const { id } = await subscribe(ENTERPRISE, '/dead');
    const event = statusEvent('slr_0003');
    await publish(event);
    await waitFor(() => forOrder(event.body.order_id).length >= MAX_ATTEMPTS, 10_000, 'every attempt');
    door ??= await RabbitSideDoor.open((bus as RabbitBus).topology);
    let dead: Awaited<ReturnType<RabbitSideDoor['deadLetters']>> = [];
    for (let i = 0; i < 100 && dead.length === 0; i++) {
      dead = await door.deadLetters('webhooks.deliveries');
      if (dead.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.id, forOrder(event.body.order_id)[0]?.headers['webhook-id']);
    assert.match(dead[0]?.reason ?? '', /after 4 attempts/);
    const log = (await request(stack.url).get(`/v1/webhooks/${id}/deliveries`).set(ENTERPRISE).expect(200)).body.items;
    assert.equal(log[0].status, 'failed');
    assert.equal(log[0].attempts.length, MAX_ATTEMPTS);
    assert.equal(forOrder(event.body.order_id).length, MAX_ATTEMPTS, 'no more attempts');
    await request(stack.url).delete(`/v1/webhooks/${id}`).set(ENTERPRISE).expect(204);
  });

  it('rotation: during the overlap both secrets sign; each signature verifies', async () => {
    const { id, secret: oldSecret } = await subscribe(PRO, '/ok');
    const rotated = await request(stack.url).post(`/v1/webhooks/${id}/rotate-secret`).set(PRO).send({ overlap_seconds: 3600 }).expect(200);
    const newSecret = rotated.body.secret as string;
    assert.notEqual(newSecret, oldSecret);
    assert.ok(rotated.body.previous_secret_expires_at);
    const event = statusEvent('slr_0002', 'SHIPPED');
    await publish(event);
    await waitFor(() => forOrder(event.body.order_id).length >= 1, 5_000, 'the delivery');
    const [attempt] = forOrder(event.body.order_id);
    const { 'webhook-id': wid, 'webhook-timestamp': ts, 'webhook-signature': sig } = attempt?.headers as Record<string, string>;
    const signatures = (sig as string).split(' ');
    assert.deepEqual(signatures.sort(), [`v1,${signatureOf(newSecret, wid as string, ts as string, attempt?.body ?? '')}`, `v1,${signatureOf(oldSecret, wid as string, ts as string, attempt?.body ?? '')}`].sort());
    for (const secret of [oldSecret, newSecret]) new Webhook(secret).verify(attempt?.body ?? '', { 'webhook-id': wid as string, 'webhook-timestamp': ts as string, 'webhook-signature': sig as string });
    // Overlap 0: the old secret stops at once.
    await request(stack.url).post(`/v1/webhooks/${id}/rotate-secret`).set(PRO).send({ overlap_seconds: 0 }).expect(200);
    await request(stack.url).delete(`/v1/webhooks/${id}`).set(PRO).expect(204);
  });

  it('a redirect is not followed (and counts as a failure)', async () => {
    const { id } = await subscribe(PRO, '/redirect');
    const event = statusEvent('slr_0002', 'PACKAGING');
    const okBefore = received.filter((r) => r.path === '/ok').length;
    await publish(event);
    await waitFor(() => forOrder(event.body.order_id).length >= 1, 5_000, 'the first attempt');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received.filter((r) => r.path === '/ok').length, okBefore, '/ok never called');
    const log = (await request(stack.url).get(`/v1/webhooks/${id}/deliveries`).set(PRO).expect(200)).body.items;
    assert.equal(log[0].attempts[0].status_code, 302);
    await request(stack.url).delete(`/v1/webhooks/${id}`).set(PRO).expect(204);
  });

  it('a pending quote, once settled, reaches its seller’s quote.settled subscriptions once, signed, however often it is announced', async () => {
    const quotes = (await request(stack.url).post('/v1/webhooks').set(ENTERPRISE).send({ url: `${base}/quotes`, event_types: ['quote.settled'] }).expect(201)).body as { id: string; secret: string };
    await request(stack.url).post('/v1/webhooks').set(ENTERPRISE).send({ url: `${base}/orders-only`, event_types: ['order.status_changed'] }).expect(201);
    const model = await request(stack.url).post('/v1/models').set(ENTERPRISE).set('content-type', 'application/octet-stream').set('X-Filename', 'ring.stl').send(binaryStl(300, 9)).expect(201);
    const parameters = { material: 'platinum_950', size_mm: 17, finish: 'hammered' } as const;
    const pending = await request(stack.url).post('/v1/quotes').set(ENTERPRISE).send({ model_id: model.body.id, parameters }).expect(202);
    const quoteId = pending.body.id as string;

    // What the MES adapter publishes when the price job finishes (its MES is not on this bus here).
    const record = await records.quote.get(stack.gateway.services.state, quoteId);
    assert.ok(record?.price_job_id);
    let job = { status: 'pending', price: null as QuoteFinishedEvent['price'] };
    for (let i = 0; i < 300 && job.status === 'pending'; i++, await new Promise((r) => setTimeout(r, 20))) job = (await (await fetch(`${stack.mes.url}/mes/price-jobs/${record.price_job_id}`)).json()) as typeof job;
    assert.equal(job.status, 'ready');
    const finished: QuoteFinishedEvent = { price_job_id: record.price_job_id, model_id: model.body.id, order_id: null, parameters, price: job.price, error: null, at: new Date().toISOString() };
    const announce = () => bus.publish('events', ROUTING.quoteReady, { id: `quote.ready:${record.price_job_id}`, type: ROUTING.quoteReady, body: finished });

    // The seller polls first (settling it through the gateway), then the event arrives, twice.
    assert.equal((await request(stack.url).get(`/v1/quotes/${quoteId}`).set(ENTERPRISE).expect(200)).body.status, 'ready');
    await announce();
    await announce();
    await waitFor(() => received.some((r) => r.path === '/quotes' && r.body.includes(quoteId)), 10_000, 'the quote.settled delivery');
    await new Promise((r) => setTimeout(r, 300)); // room for a second delivery, which must not come
    const deliveries = received.filter((r) => r.path === '/quotes' && r.body.includes(quoteId));
    assert.deepEqual([...new Set(deliveries.map((d) => d.headers['webhook-id']))].length, 1, `one delivery (one webhook-id) for one quote; got ${deliveries.length} requests: ${deliveries.map((d) => d.headers['webhook-id']).join()}`);
    const [delivery] = deliveries;
    assert.ok(delivery);
    assert.deepEqual(JSON.parse(delivery.body), {
      type: 'quote.settled',
      timestamp: JSON.parse(delivery.body).data.at,
      data: { quote_id: quoteId, status: 'ready', price: job.price, error: null, at: JSON.parse(delivery.body).data.at },
    });
    new Webhook(quotes.secret).verify(delivery.body, delivery.headers as Record<string, string>);
    assert.ok(!received.some((r) => r.path === '/orders-only' && r.body.includes(quoteId)), 'a subscription without quote.settled gets none');
    const listed = await request(stack.url).get(`/v1/webhooks/${quotes.id}/deliveries`).set(ENTERPRISE).expect(200);
    assert.deepEqual(listed.body.items.map((d: { event_type: string }) => d.event_type), ['quote.settled']);
  });

  it('a price job whose event comes before its quote is linked (a fast MES) still settles the quote and reaches the webhook', async () => {
    await request(stack.url).post('/v1/webhooks').set(FREE).send({ url: `${base}/quotes-late`, event_types: ['quote.settled'] }).expect(201);
    const priceJobId = `pj_late${String(++sequence).padStart(8, '0')}`;
    const quoteId = `qt_late${String(sequence).padStart(8, '0')}`.slice(0, 15);
    const parameters = { material: 'silver_925', size_mm: 16, finish: 'matte' } as const;
    const price = { amount_minor: 4_200, currency: 'EUR' } as const;
    const finished: QuoteFinishedEvent = { price_job_id: priceJobId, model_id: 'mdl_zzzzzzzzzzzz', order_id: null, parameters, price, error: null, at: new Date().toISOString() };
    await bus.publish('events', ROUTING.quoteReady, { id: `quote.ready:${priceJobId}`, type: ROUTING.quoteReady, body: finished });
    // What createQuote does once the MES has answered: the record, then the link.
    await new Promise((r) => setTimeout(r, 200));
    const now = new Date().toISOString();
    const state = stack.gateway.services.state;
    await records.quote.put(state, { id: quoteId, seller_id: 'slr_0001', status: 'pending', model_id: 'mdl_zzzzzzzzzzzz', sha256: 'e'.repeat(64), parameters, price: null, error: null, price_job_id: priceJobId, created_at: now, updated_at: now });
    await records.quote.linkPriceJob(state, priceJobId, quoteId);
    await waitFor(() => received.some((r) => r.path === '/quotes-late' && r.body.includes(quoteId)), 15_000, 'the late quote’s delivery');
    assert.equal((await records.quote.get(state, quoteId))?.status, 'ready', 'settled by the retried event, nobody polled');
  });

  it('bad input is a 4xx problem+json', async () => {
    assertProblem(await request(stack.url).post('/v1/webhooks').set(PRO).send({}), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: `${base}/ok`, event_types: ['order.deleted'] }), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: `${base}/ok`, secret: 'mine' }), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: 'ftp://files.example/hook' }), 422, 'FACET_ERR_WEBHOOK_URL_REFUSED');
    assertProblem(await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: 'not a url at all' }), 422, 'FACET_ERR_WEBHOOK_URL_REFUSED');
    assertProblem(await request(stack.url).post('/v1/webhooks').set(PRO).send({ url: `http://user:pw@127.0.0.1:1/x` }), 422, 'FACET_ERR_WEBHOOK_URL_REFUSED');
    assertProblem(await request(stack.url).post('/v1/webhooks/wh_zzzzzzzzzzzz/rotate-secret').set(PRO).send({ overlap_seconds: -1 }), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).get('/v1/webhooks/not-an-id/deliveries').set(PRO), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).post('/v1/webhooks/wh_zzzzzzzzzzzz/deliveries/bad/replay').set(PRO), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).delete('/v1/webhooks/wh_zzzzzzzzzzzz').set(PRO), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).get('/v1/webhooks'), 401, 'FACET_ERR_AUTH_MISSING_KEY');
  });
});
