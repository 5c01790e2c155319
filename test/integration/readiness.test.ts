// /readyz names every dependency, RabbitMQ included: with the broker
// unreachable (an AMQP URL to a closed loopback port) the gateway is not
// ready (503) and the rabbitmq check lists the operations it takes down;
// every failing check says what it affects. Before, /readyz checked CRM,
// MES and Redis only: with the broker down the gateway stayed ready while
// every write answered 503.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { operationsUsingEndpoint } from '../../gateway/health.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { specs, validatorFor } from '../security/contract.ts';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const readinessSchema = (specs.internal.components as { schemas: Record<string, unknown> }).schemas.Readiness;
function assertReadinessDocument(body: unknown): void {
  const validate = validatorFor('internal', readinessSchema);
  assert.ok(validate(body), JSON.stringify(validate.errors));
}

describe('/readyz with the broker unreachable', () => {
  let bus: Bus;
  let stack: Stack;
  before(async () => {
    bus = createBus({ url: `amqp://guest:guest@127.0.0.1:${await closedPort()}`, prefix: uniquePrefix(), logger: testLogger });
    stack = await startStack({ orderCount: 20, bus });
  });
  after(async () => {
    await stack.close();
    await bus.close();
  });

  it('is 503 not_ready, names rabbitmq down and the operations it takes down', async () => {
    const res = await request(stack.url).get('/readyz').expect(503);
    assertReadinessDocument(res.body);
    assert.equal(res.body.status, 'not_ready');
    const broker = res.body.checks.rabbitmq;
    assert.equal(broker.status, 'down');
    assert.equal(broker.required, true);
    for (const op of ['createOrder', 'cancelOrder', 'takeOrder', 'replayWebhookDelivery', 'createQuote']) assert.ok(broker.affects.includes(op), `affects ${op}: ${broker.affects}`);
    // Every dependency is named, each with its state.
    for (const name of ['crm', 'mes', 'rabbitmq']) assert.ok(['up', 'down'].includes(res.body.checks[name]?.status), name);
    assert.equal(res.body.checks.crm.affects, undefined, 'an up dependency affects nothing');
  });

  it('what it says is so: a take is refused 503 while the broker is down', async () => {
    const order = stack.mes.store.orders.page({ limit: 20 }).items.find((o) => o.operator_id === null && stack.crm.store.getOrder(o.order_id));
    assert.ok(order);
    const res = await request(stack.url).post(`/internal/v1/orders/${order.order_id}/take`).set('Authorization', `Bearer ${stack.operatorToken}`);
    assert.equal(res.status, 503, res.text);
  });

  it('a failing upstream lists the operations its pipelines route to it', async () => {
    await stack.crm.faults.set({ down: true });
    try {
      const res = await request(stack.url).get('/readyz');
      assertReadinessDocument(res.body);
      const crm = res.body.checks.crm;
      assert.equal(crm.status, 'down');
      assert.deepEqual(crm.affects, operationsUsingEndpoint(stack.gateway.services, 'crm'));
      for (const op of ['listOrders', 'getOrder']) assert.ok(crm.affects.includes(op), `crm affects ${op}: ${crm.affects}`);
      assert.ok(!crm.affects.includes('uploadModel'), 'uploads go to the MES');
    } finally {
      await stack.crm.faults.set({ down: false });
    }
  });
});

describe('/readyz with the broker up', () => {
  let bus: Bus;
  let stack: Stack;
  before(async () => {
    bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), logger: testLogger });
    await waitForConnection(bus, 10_000);
    stack = await startStack({ orderCount: 20, bus });
  });
  after(async () => {
    await stack.close();
    const door = await RabbitSideDoor.open((bus as RabbitBus).topology);
    await door.cleanup();
    await bus.close();
  });

  it('is 200 with rabbitmq up and required', async () => {
    const res = await request(stack.url).get('/readyz').expect(200);
    assertReadinessDocument(res.body);
    assert.deepEqual({ status: res.body.checks.rabbitmq.status, required: res.body.checks.rabbitmq.required }, { status: 'up', required: true });
  });
});
