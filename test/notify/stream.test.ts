// The operators' live stream (SSE) on two gateway replicas sharing Redis and
// RabbitMQ: every client of either replica gets each event once, resumes
// with Last-Event-ID, is told about a gap, filters by status, gets
// heartbeats; bad input is a problem; shutdown ends open streams promptly.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6379/7 npx node --import tsx --test test/notify/stream.test.ts

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { ROUTING, type OrderStatus, type OrderStatusChangedEvent } from '../../contracts/messages.ts';
import { buildGateway, type Gateway } from '../../gateway/app.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { assertProblem, startStack, type Stack } from '../helpers/stack.ts';
import { SseClient } from './sse-client.ts';

const CLIENTS = 500;
let sequence = 0;

function statusEvent(status: OrderStatus, previous: OrderStatus | null = 'SUBMITTED', orderId = `ord_stream${String(++sequence).padStart(4, '0')}`) {
  const body: OrderStatusChangedEvent = { order_id: orderId, seller_id: 'slr_0002', status, previous_status: previous, reason: null, at: new Date().toISOString() };
  return { id: `${orderId}:${status}`, type: ROUTING.statusChanged, body };
}

describe('operators’ live stream: GET /internal/v1/orders/stream', () => {
  const prefix = uniquePrefix();
  const buses: Bus[] = [];
  let publisher: Bus;
  let stack: Stack;
  let replica: Gateway;
  let urls: string[] = [];
  let auth: Record<string, string>;

  const rabbit = async () => {
    const bus = createBus({ url: AMQP_URL, prefix, logger: testLogger });
    await waitForConnection(bus, 10_000);
    buses.push(bus);
    return bus;
  };
  const open = (base: string, query = '', headers: Record<string, string> = {}) => SseClient.open(`${base}/internal/v1/orders/stream${query}`, { ...auth, ...headers });
  const publish = (message: ReturnType<typeof statusEvent>) => publisher.publish('events', ROUTING.statusChanged, message);

  before(async () => {
    await clearRedis();
    const mutateConfig = (doc: Record<string, any>) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      // All the clients here are one operator's: the per-operator cap is raised to hold them (stream-limits.test.ts tests it).
      doc.notifications = { stream: { heartbeatMs: 300, bufferSize: 50, maxBufferedBytes: 262_144, maxStreamsPerOperator: CLIENTS } };
    };
    stack = await startStack({ redisUrl: REDIS_URL, bus: await rabbit(), mutateConfig });
    replica = await buildGateway(stack.validated, { logger: false, redisUrl: REDIS_URL, bus: await rabbit() });
    await replica.app.listen({ port: 0, host: '127.0.0.1' });
    const address = replica.app.server.address();
    urls = [stack.url, `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`];
    for (let i = 0; i < 100 && replica.services.redis?.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 50));
    publisher = await rabbit();
    auth = { authorization: `Bearer ${stack.operatorToken}` };
  });

  after(async () => {
    await replica.close();
    await stack.close();
    const door = await RabbitSideDoor.open((buses[0] as RabbitBus).topology);
    await door.cleanup();
    await Promise.all(buses.map((b) => b.close()));
  });

  it(`${CLIENTS} clients on two replicas each get an event exactly once, also when the bus delivers it twice`, async () => {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => open(urls[i % 2] as string)));
    try {
      const event = statusEvent('SUBMITTED', null);
      await publish(event);
      await publish(event); // a redelivery: the same message id
      const later = statusEvent('PRICE_CALCULATED');
      await publish(later);
      await Promise.all(clients.map((c) => c.waitFor((x) => x.events.some((e) => e.data.includes(later.id)), 10_000, 'the second event')));
      for (const client of clients) {
        const mine = client.events.filter((e) => e.data.includes(event.id));
        assert.equal(mine.length, 1, 'once');
        assert.equal(mine[0]?.event, 'order.created');
        assert.deepEqual(JSON.parse(mine[0]?.data ?? '{}'), { event_id: event.id, ...event.body });
      }
      const ids = new Set(clients.map((c) => c.events.find((e) => e.data.includes(event.id))?.id));
      assert.equal(ids.size, 1, 'the same id on both replicas');
      assert.ok(stack.gateway.services.feed.clientCount + replica.services.feed.clientCount >= CLIENTS);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('a client reconnecting with Last-Event-ID gets what it missed, in order, then live events', async () => {
    const first = await open(urls[0] as string);
    const e1 = statusEvent('SUBMITTED', null);
    await publish(e1);
    await first.waitFor((c) => c.events.some((e) => e.data.includes(e1.id)));
    const lastId = first.events.at(-1)?.id as string;
    first.close();
    const missed = [statusEvent('PRICE_CALCULATED'), statusEvent('MANUFACTURING_APPROVED'), statusEvent('SHIPPED')];
    const watcher = await open(urls[1] as string);
    for (const m of missed) await publish(m);
    await watcher.waitFor((c) => c.events.some((e) => e.data.includes(missed[2]?.id ?? '')));
    watcher.close();
    const again = await open(urls[1] as string, '', { 'last-event-id': lastId });
    await again.waitFor((c) => c.events.length >= 3);
    assert.deepEqual(again.events.slice(0, 3).map((e) => JSON.parse(e.data).event_id), missed.map((m) => m.id));
    const live = statusEvent('CLOSED');
    await publish(live);
    await again.waitFor((c) => c.events.some((e) => e.data.includes(live.id)));
    assert.equal(again.events.filter((e) => e.event === 'gap').length, 0);
    again.close();
  });

  it('a Last-Event-ID older than the buffer gets a gap event first', async () => {
    const feed = stack.gateway.services.feed;
    for (let i = 0; i < 260; i++) await feed.append({ eventId: `gap-test-${i}`, type: 'order.status_changed', status: 'SHIPPED', data: '{}' });
    const client = await open(urls[0] as string, '', { 'last-event-id': '1-0' });
    await client.waitFor((c) => c.events.length > 1);
    assert.equal(client.events[0]?.event, 'gap');
    assert.equal(client.events[0]?.id, undefined);
    assert.ok(client.events.length - 1 < 260, 'only the buffered events follow');
    client.close();
  });

  it('?status= keeps only status events with those statuses; heartbeats arrive as comments', async () => {
    const shipped = await open(urls[1] as string, '?status=SHIPPED&status=CLOSED');
    const events = [statusEvent('PRICE_CALCULATED'), statusEvent('SHIPPED'), statusEvent('MANUFACTURING_STARTED'), statusEvent('CLOSED')];
    for (const e of events) await publish(e);
    await shipped.waitFor((c) => c.events.some((e) => e.data.includes(events[3]?.id ?? '')));
    assert.deepEqual(shipped.events.map((e) => JSON.parse(e.data).status), ['SHIPPED', 'CLOSED']);
    await shipped.waitFor((c) => c.comments.includes('ping'), 2_000, 'a heartbeat');
    shipped.close();
  });

  it('bad input is a 4xx problem+json; no token is 401', async () => {
    const base = request(urls[0] as string);
    assertProblem(await base.get('/internal/v1/orders/stream?status=NOPE').set(auth), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await base.get('/internal/v1/orders/stream?since=1').set(auth), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await base.get('/internal/v1/orders/stream').set(auth).set('Last-Event-ID', 'abc\u0001'.slice(0, 3)), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await base.get('/internal/v1/orders/stream'), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
    assertProblem(await base.get('/internal/v1/orders/stream').set('X-API-Key', 'demo-pro-key'), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
  });

  it('a client that disconnects is forgotten', async () => {
    const before = replica.services.feed.clientCount;
    const client = await open(urls[1] as string);
    assert.equal(replica.services.feed.clientCount, before + 1);
    client.close();
    for (let i = 0; i < 100 && replica.services.feed.clientCount > before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(replica.services.feed.clientCount, before);
  });

  it('shutdown ends open streams and still closes promptly', async () => {
    const extra = await buildGateway(stack.validated, { logger: false, redisUrl: REDIS_URL, bus: await rabbit() });
    await extra.app.listen({ port: 0, host: '127.0.0.1' });
    const address = extra.app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const clients = await Promise.all(Array.from({ length: 20 }, () => open(url)));
    const started = Date.now();
    await extra.close();
    assert.ok(Date.now() - started < 3_000, `closed in ${Date.now() - started} ms`);
    for (const c of clients) await c.waitFor((x) => x.ended, 2_000, 'the stream to end');
  });
});
