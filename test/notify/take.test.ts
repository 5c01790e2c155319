// An operator takes an order: among concurrent takes exactly one wins (202),
// the others get 409; the take reaches the MES once through RabbitMQ (the
// MES adapter) and shows on the live stream; a take the MES refuses frees
// the order again.
//
//   TEST_REDIS_URL=redis://127.0.0.1:6379/7 npx node --import tsx --test test/notify/take.test.ts

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import request from 'supertest';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { startAdapters, type Adapters } from '../../adapters/index.ts';
import { createRedis } from '../../platform/redis.ts';
import { RedisKeyValueStore } from '../../platform/state/kv.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';
import { assertProblem, startStack, TEST_JWT_SECRET, type Stack } from '../helpers/stack.ts';
import { SseClient } from './sse-client.ts';

const TAKE_ROUTE = 'POST /mes/orders/:order_id/take';

function operatorToken(subject: string): Promise<string> {
  return new SignJWT({ role: 'operator' }).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

describe('operator takes an order: POST /internal/v1/orders/{id}/take', () => {
  let bus: Bus;
  let stack: Stack;
  let adapters: Adapters;
  let redis: ReturnType<typeof createRedis>;
  let stream: SseClient;

  before(async () => {
    await clearRedis();
    bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), logger: testLogger });
    await waitForConnection(bus, 10_000);
    stack = await startStack({ redisUrl: REDIS_URL, bus });
    redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
    adapters = await startAdapters({ bus, store: new RedisKeyValueStore(redis), crmUrl: stack.crm.url, mesUrl: stack.mes.url, saga: { keyPrefix: `facet:saga:${Date.now()}:` } });
    stream = await SseClient.open(`${stack.url}/internal/v1/orders/stream`, { authorization: `Bearer ${stack.operatorToken}` });
  });

  after(async () => {
    stream.close();
    await adapters.close();
    await stack.close();
    const door = await RabbitSideDoor.open((bus as RabbitBus).topology);
    await door.cleanup();
    await bus.close();
    redis.disconnect();
  });

  const freeOrder = (skip = 0) => {
    const free = stack.mes.store.orders.page({ limit: 200 }).items.filter((o) => o.operator_id === null && stack.crm.store.getOrder(o.order_id));
    const order = free[skip];
    assert.ok(order, 'a seeded order nobody has taken');
    return order.order_id;
  };

  it('20 operators at once: exactly one 202, the rest 409; the MES sees one take; the stream shows it', async () => {
    const orderId = freeOrder();
    const before = stack.mes.requests.get(TAKE_ROUTE) ?? 0;
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => operatorToken(`op_${i + 1}`)));
    const answers = await Promise.all(tokens.map((t) => request(stack.url).post(`/internal/v1/orders/${orderId}/take`).set('Authorization', `Bearer ${t}`)));
    const won = answers.filter((a) => a.status === 202);
    assert.equal(won.length, 1, JSON.stringify(answers.map((a) => a.status)));
    for (const lost of answers.filter((a) => a.status !== 202)) assertProblem(lost, 409, 'FACET_ERR_ORDER_TAKEN');
    const winner = won[0]?.body.operator_id as string;
    assert.deepEqual(won[0]?.body, { order_id: orderId, operator_id: winner, status: 'requested' });

    await stream.waitFor((c) => c.events.some((e) => e.event === 'order.taken' && JSON.parse(e.data).order_id === orderId), 10_000, 'order.taken');
    const taken = JSON.parse(stream.events.find((e) => e.event === 'order.taken')?.data ?? '{}');
    assert.equal(taken.operator_id, winner);
    assert.equal(stack.mes.store.orders.get(orderId)?.operator_id, winner);
    assert.equal((stack.mes.requests.get(TAKE_ROUTE) ?? 0) - before, 1, 'one take reached the MES');

    // The winner asking again gets the same answer; a loser still 409.
    await request(stack.url).post(`/internal/v1/orders/${orderId}/take`).set('Authorization', `Bearer ${tokens[tokens.findIndex((_, i) => `op_${i + 1}` === winner)]}`).expect(202);
  });

  it('a take the MES refuses (another operator holds it there) shows on the stream and frees the claim', async () => {
    const orderId = freeOrder(1);
    stack.mes.store.orders.take(orderId, 'op_elsewhere');
    await request(stack.url).post(`/internal/v1/orders/${orderId}/take`).set('Authorization', `Bearer ${await operatorToken('op_late')}`).expect(202);
    await stream.waitFor((c) => c.events.some((e) => e.event === 'order.take_refused' && JSON.parse(e.data).order_id === orderId), 10_000, 'order.take_refused');
    const refused = JSON.parse(stream.events.find((e) => e.event === 'order.take_refused')?.data ?? '{}');
    assert.equal(refused.reason, 'taken');
    assert.equal(refused.holder, 'op_elsewhere');
    // The claim is free again at the gateway.
    for (let i = 0; i < 100 && (await redis.get(`facet:take:${orderId}`)) !== null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await redis.get(`facet:take:${orderId}`), null);
  });

  it('bad input is a 4xx problem+json', async () => {
    const auth = { Authorization: `Bearer ${stack.operatorToken}` };
    assertProblem(await request(stack.url).post('/internal/v1/orders/ord_zzzzzzzzzzzz/take').set(auth), 404, 'FACET_ERR_NOT_FOUND');
    assertProblem(await request(stack.url).post('/internal/v1/orders/not-an-order/take').set(auth), 400, 'FACET_ERR_VALIDATION');
    assertProblem(await request(stack.url).post(`/internal/v1/orders/${freeOrder(2)}/take`), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
    assertProblem(await request(stack.url).post(`/internal/v1/orders/${freeOrder(2)}/take`).set('X-API-Key', 'demo-pro-key'), 401, 'FACET_ERR_AUTH_MISSING_TOKEN');
    const oddSubject = await operatorToken('ana@example.com');
    assertProblem(await request(stack.url).post(`/internal/v1/orders/${freeOrder(2)}/take`).set('Authorization', `Bearer ${oddSubject}`), 403, 'FACET_ERR_AUTH_FORBIDDEN');
  });
});
