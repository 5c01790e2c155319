// kill -9 of the adapters mid-way: the adapters run as a child process
// (`node adapters/main.ts`) on RabbitMQ + Redis, the simulators in this
// process (MES publishing its events on RabbitMQ). 100 orders (some quoted,
// some cancelled, some whose price job fails), SIGKILL while they are in
// flight, restart, and every order must end in the CRM exactly once, in an
// expected state, with no status applied twice and every CRM change announced.

import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { ROUTING, type CancelOrderCommand, type OrderStatus, type OrderStatusChangedEvent, type PlaceOrderCommand } from '../../contracts/messages.ts';
import { MES_EVENTS_QUEUE, SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, SagaStore } from '../../adapters/index.ts';
import { createRedis } from '../../platform/redis.ts';
import { RedisKeyValueStore } from '../../platform/state/kv.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { startCrmSim, startMesSim, type CrmSimHandle, type MesSimHandle } from '../../sim/index.ts';
import { RabbitSideDoor, uniquePrefix } from '../bus/helpers.ts';
import { startProcess, type RunningProcess } from '../helpers/processes.ts';
import { clearRedis } from '../helpers/redis.ts';
import { AMQP_URL, FAST_LATENCY, FAST_MES, REDIS_URL, crmHistory, placeCommand, randomTag, testLogger, waitFor } from './helpers.ts';

const N = 100;
const RETRY_DELAYS_MS = [200, 500, 1000];
const MAIN = resolve(import.meta.dirname, '../../adapters/main.ts');
const LINE: OrderStatus[] = ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED'];
const FINAL: ReadonlySet<OrderStatus> = new Set(['SHIPPED', 'REJECTED', 'CANCELLED']);

describe('adapters killed with SIGKILL mid-way (child process, RabbitMQ + Redis)', () => {
  const prefix = uniquePrefix();
  const tag = randomTag();
  const dataset = generateDataset(7, 3, 300);
  let bus: Bus;
  let mes: MesSimHandle;
  let crm: CrmSimHandle;
  let child: RunningProcess | undefined;
  let door: RabbitSideDoor | undefined;
  const events: OrderStatusChangedEvent[] = [];

  const env = (): NodeJS.ProcessEnv => ({
    AMQP_URL,
    AMQP_PREFIX: prefix,
    REDIS_URL,
    CRM_URL: crm.url,
    MES_URL: mes.url,
    LOG_LEVEL: process.env.FACET_TEST_BUS_LOG === '1' ? 'debug' : 'info',
    SAGA_RETRY_DELAYS_MS: RETRY_DELAYS_MS.join(','),
    SAGA_LOCK_TTL_SEC: '2',
    ADAPTERS_HTTP_PORT: '0',
  });
  /** What a failure report needs: where the unsettled orders are, in the CRM, the saga and the dead letters. */
  const diagnose = async (ids: string[]): Promise<string> => {
    const redis = createRedis({ url: REDIS_URL, commandTimeoutMs: 2_000 });
    await waitFor(() => redis.status === 'ready', 5_000, 'redis');
    const store = new SagaStore(new RedisKeyValueStore(redis));
    const lines: string[] = [];
    for (const id of ids) {
      const status = crm.store.getOrder(id)?.status;
      if (status && FINAL.has(status)) continue;
      const state = await store.load(id);
      lines.push(`${id}: CRM ${status ?? 'none'}, MES ${mes.store.manufacturing.get(id)?.status ?? 'no job'}, saga ${JSON.stringify(state && { ...state, command: undefined })}`);
    }
    redis.disconnect();
    door ??= await RabbitSideDoor.open((bus as RabbitBus).topology);
    const open = door;
    const dead = [SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, MES_EVENTS_QUEUE].map(async (q) => (await open.deadLetters(q)).map((d) => `${q} ${d.id}: ${d.reason}`));
    lines.push(...(await Promise.all(dead)).flat());
    return [...lines, 'adapters log (tail):', ...(child?.stdout().split('\n').slice(-20) ?? [])].join('\n');
  };
  const startChild = (): Promise<RunningProcess> => startProcess(MAIN, env(), /adapters started/, 20_000);

  before(async () => {
    bus = createBus({ url: AMQP_URL, prefix, logger: testLogger });
    await waitForConnection(bus, 10_000);
    mes = await startMesSim({ dataset, ...FAST_MES, priceFailRate: 0.1, bus });
    crm = await startCrmSim({ dataset, latency: FAST_LATENCY });
    await bus.consume({ queue: 'test.observer', bindings: [{ exchange: 'events', pattern: ROUTING.statusChanged }], prefetch: 50 }, async ({ message }) => {
      events.push(message.body as OrderStatusChangedEvent);
      return 'ack';
    });
  });

  after(async () => {
    await child?.stop('SIGKILL');
    await mes?.close();
    await crm?.close();
    await bus?.close();
    door ??= await RabbitSideDoor.open((bus as RabbitBus).topology);
    const ch = await door.channel();
    const levels = RETRY_DELAYS_MS.map((ms) => `${prefix}.retry.${ms}ms`);
    for (const q of [SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, MES_EVENTS_QUEUE]) await ch.deleteQueue(`${prefix}.${q}`);
    for (const name of levels) {
      await ch.deleteQueue(name);
      await ch.deleteExchange(name);
    }
    await ch.close();
    await door.cleanup();
    await clearRedis([`facet:saga:ord_k${tag}_`]);
  });

  it('ends every order in the CRM exactly once, in an expected state', async (t) => {
    const crmBefore = crm.store.size;
    child = await startChild();

    const templates = [...dataset.orders].sort((a, b) => a.model.polygons - b.model.polygons);
    const commands: PlaceOrderCommand[] = [];
    for (let i = 0; i < N; i++) {
      const quoted = i % 5 === 0;
      const command = placeCommand(templates[i % templates.length]!, `ord_k${tag}_${i}`, quoted ? { price: { amount_minor: 10_000 + i, currency: 'EUR' }, quote_id: `qt_${i}` } : {});
      commands.push(command);
    }
    const cancelled = new Set(commands.filter((_, i) => i % 10 === 3).map((c) => c.order_id));
    for (const command of commands) {
      await bus.publish('commands', ROUTING.placeOrder, { id: `place:${command.order_id}`, type: ROUTING.placeOrder, body: command });
      if (cancelled.has(command.order_id)) {
        const body: CancelOrderCommand = { order_id: command.order_id, seller_id: command.seller_id, reason: 'changed my mind', requested_at: new Date().toISOString() };
        await bus.publish('commands', ROUTING.cancelOrder, { id: `cancel:${command.order_id}`, type: ROUTING.cancelOrder, body });
      }
    }

    // Kill it twice while orders are spread over the flow: once early (creating, pricing,
    // approving), once later (manufacturing updates), restarting it each time.
    const statusOf = (c: PlaceOrderCommand): OrderStatus | undefined => crm.store.getOrder(c.order_id)?.status;
    const kills = [
      { label: '30% of the orders in the CRM', ready: () => commands.filter((c) => statusOf(c)).length >= N * 0.3 },
      { label: '30% of the orders in manufacturing', ready: () => commands.filter((c) => LINE.indexOf(statusOf(c) as OrderStatus) >= 3).length >= N * 0.3 },
    ];
    for (const kill of kills) {
      await waitFor(kill.ready, 20_000, kill.label);
      const unfinished = commands.filter((c) => !FINAL.has(statusOf(c) as OrderStatus)).length;
      assert.equal(await child.stop('SIGKILL'), null);
      t.diagnostic(`SIGKILL at ${kill.label}: ${unfinished} orders unfinished`);
      assert.ok(unfinished > 0, 'the kill came before the end');
      child = await startChild();
    }

    const settled = (): boolean => commands.every((c) => FINAL.has(crm.store.getOrder(c.order_id)?.status as OrderStatus));
    await waitFor(settled, 40_000, 'every order settled').catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await diagnose(commands.map((c) => c.order_id))}`);
    });

    // Exactly N new orders in the CRM, over HTTP as anyone would see it.
    const stats = (await (await fetch(`${crm.url}/crm/stats`)).json()) as { orders: number };
    assert.equal(stats.orders, crmBefore + N);

    await waitFor(() => events.length > 0 && commands.every((c) => new Set(events.filter((e) => e.order_id === c.order_id).map((e) => e.status)).size === crmHistory(crm.store.getOrder(c.order_id)).length), 10_000, 'events for every CRM change');
    const outcome = { shipped: 0, rejected: 0, cancelled: 0, refusedCancels: 0 };
    for (const [i, command] of commands.entries()) {
      const id = command.order_id;
      const order = crm.store.getOrder(id);
      assert.ok(order, `${id} in the CRM`);
      const history = crmHistory(order);
      assert.equal(new Set(history).size, history.length, `${id}: no status applied twice (${history.join(' → ')})`);
      assert.equal(order.history?.[0]?.reason, 'created');
      const forward = history.filter((s) => s !== 'REJECTED' && s !== 'CANCELLED');
      assert.deepEqual(forward, LINE.slice(0, forward.length), `${id}: ${history.join(' → ')}`);
      const jobs = mes.store.prices.forOrder(id);
      // A cancel handled before pricing was requested (possible around the kill) leaves no job.
      if (i % 5 === 0) assert.equal(jobs.length, 0, `${id}: quoted, no price job`);
      else if (cancelled.has(id)) assert.ok(jobs.length <= 1, `${id}: at most one price job`);
      else assert.equal(jobs.length, 1, `${id}: one price job`);
      const last = order.history?.at(-1);
      if (order.status === 'SHIPPED') {
        outcome.shipped++;
        if (cancelled.has(id)) outcome.refusedCancels++;
      } else {
        assert.ok(last?.reason, `${id}: ${order.status} has a reason`);
        if (order.status === 'REJECTED') {
          outcome.rejected++;
          assert.equal(last.reason, 'price_job_failed');
          assert.equal(jobs[0]?.status, 'failed');
        } else {
          outcome.cancelled++;
          assert.ok(cancelled.has(id), `${id} cancelled only on request`);
          assert.equal(last.reason, 'changed my mind');
        }
      }
      if (jobs[0]?.status === 'failed' && !cancelled.has(id)) assert.equal(order.status, 'REJECTED');
      // Every CRM change was announced, in order (duplicates share their id).
      const seen = [...new Set(events.filter((e) => e.order_id === id).map((e) => e.status))];
      assert.deepEqual(seen, history, `${id}: events`);
    }
    assert.equal(outcome.shipped + outcome.rejected + outcome.cancelled, N);
    t.diagnostic(`outcome: ${JSON.stringify(outcome)}; duplicates recognised after the kills: ${(child.stdout().match(/duplicate message ignored/g) ?? []).length}`);
    assert.ok(outcome.cancelled > 0 && outcome.shipped > 0);

    // SIGTERM: stops consuming and exits 0.
    const code = await child.stop('SIGTERM');
    child = undefined;
    assert.equal(code, 0);
  });
});
