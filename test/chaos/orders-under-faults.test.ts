// 1,000 orders through the gateway while things break: the adapters are
// killed (SIGKILL) twice mid-saga and restarted, RabbitMQ is restarted
// (`rabbitmqctl stop_app && start_app`), and the MES refuses manufacturing
// when it is full. Sellers retry a 503 with the same Idempotency-Key, as the
// API tells them to. Every order answered 202 must end in the CRM exactly
// once, in a final state, with no status applied twice; the ones the MES
// refused end REJECTED (mes_capacity), compensated in the CRM.
//
// Runs the gateway and simulators in this process, the adapters as a child
// process (`node adapters/main.ts`), on the real RabbitMQ and Redis. It
// restarts the shared broker: FACET_TEST_BROKER_RESTART=0 leaves that fault out.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { createBus, waitForConnection, type Bus } from '../../platform/bus/index.ts';
import type { OrderStatus } from '../../contracts/messages.ts';
import { buildGateway, type Gateway } from '../../gateway/app.ts';
import { parseConfig } from '../../gateway/config/load.ts';
import { POLICIES } from '../../policies/index.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { startCrmSim, startMesSim, type CrmSimHandle, type MesSimHandle } from '../../sim/index.ts';
import { FAST_LATENCY, FAST_MES, crmHistory, waitFor } from '../adapters/helpers.ts';
import { AMQP_URL, run, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { binaryStl } from '../helpers/models.ts';
import { closeBusAndTopology } from '../helpers/cluster.ts';
import { startProcess, type RunningProcess } from '../helpers/processes.ts';
import { REDIS_URL } from '../helpers/redis.ts';
import { TEST_JWT_SECRET } from '../helpers/stack.ts';

const N = 1000;
const CONCURRENCY = 16;
const RETRY_DELAYS_MS = [200, 500, 1000];
const ADAPTERS = resolve(import.meta.dirname, '../../adapters/main.ts');
const KEY = { 'x-api-key': 'demo-enterprise-key' };
const FINAL: ReadonlySet<OrderStatus> = new Set(['SHIPPED', 'REJECTED', 'CANCELLED']);
const LINE: OrderStatus[] = ['SUBMITTED', 'PRICE_CALCULATED', 'MANUFACTURING_APPROVED', 'MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED'];
const restartBroker = process.env.FACET_TEST_BROKER_RESTART !== '0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('1,000 orders through the gateway under faults', () => {
  const prefix = uniquePrefix();
  const dataset = generateDataset(11, 3, 200);
  let bus: Bus;
  let mes: MesSimHandle;
  let crm: CrmSimHandle;
  let gateway: Gateway;
  let url = '';
  let adapters: RunningProcess | undefined;

  const startAdapters = () =>
    startProcess(
      ADAPTERS,
      { AMQP_URL, AMQP_PREFIX: prefix, REDIS_URL, CRM_URL: crm.url, MES_URL: mes.url, LOG_LEVEL: 'info', ADAPTERS_HTTP_PORT: '0', SAGA_RETRY_DELAYS_MS: RETRY_DELAYS_MS.join(','), SAGA_LOCK_TTL_SEC: '2' },
      /adapters started/,
      30_000,
    );

  before(async () => {
    bus = createBus({ url: AMQP_URL, prefix, logger: testLogger, reconnectMaxDelayMs: 1_000 });
    await waitForConnection(bus, 10_000);
    // A small workshop: manufacturing takes 100 ms a stage and holds 10 at a time, so a burst is refused.
    mes = await startMesSim({ dataset, ...FAST_MES, capacity: 10, bus });
    crm = await startCrmSim({ dataset, latency: FAST_LATENCY });
    const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Doc;
    doc.plans.enterprise.rate = { perSecond: 10_000, burst: 10_000 };
    doc.plans.enterprise.concurrentPriceJobs = 100_000; // orders without a quote hold a price-job slot: not what this test measures
    doc.shedding = { ...doc.shedding, eventLoopDelayMs: { 'free-read': 5000, 'paid-read': 5000, write: 5000 } };
    const validated = parseConfig(stringify(doc), 'gateway.config.yml', POLICIES, { CRM_URL: crm.url, MES_URL: mes.url, JWT_SECRET: TEST_JWT_SECRET, PORT: '0', HOST: '127.0.0.1' });
    gateway = await buildGateway(validated, { logger: false, redisUrl: REDIS_URL, bus });
    await gateway.app.listen({ port: 0, host: '127.0.0.1' });
    const address = gateway.app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(async () => {
    await adapters?.stop('SIGKILL');
    await gateway?.close();
    await mes?.close();
    await crm?.close();
    await closeBusAndTopology(bus, prefix, RETRY_DELAYS_MS);
  });

  it('every order answered 202 ends in the CRM exactly once, in a final state', { timeout: 600_000 }, async (t) => {
    const crmBefore = crm.store.size;
    adapters = await startAdapters();
    const upload = await fetch(`${url}/v1/models`, { method: 'POST', headers: { ...KEY, 'content-type': 'application/octet-stream', 'x-filename': 'ring.stl' }, body: binaryStl(40, 3) });
    assert.equal(upload.status, 201);
    const model = (await upload.json()) as { id: string };
    const template = dataset.orders[0]!;

    /** One seller's order: retried with the same key on 503 or a dropped connection, until 202. */
    const answers = new Map<number, number>();
    const place = async (i: number): Promise<string> => {
      const body = JSON.stringify({ model_id: model.id, parameters: { material: 'gold_18k_yellow', size_mm: 10 + (i % 20), finish: 'polished' }, customer: template.customer, shipping: template.shipping });
      for (let attempt = 0; attempt < 400; attempt++) {
        const res = await fetch(`${url}/v1/orders`, { method: 'POST', headers: { ...KEY, 'content-type': 'application/json', 'idempotency-key': `chaos-${prefix}-${i}` }, body }).catch(() => undefined);
        const status = res?.status ?? 0;
        answers.set(status, (answers.get(status) ?? 0) + 1);
        const json = (await res?.json().catch(() => undefined)) as { id?: string } | undefined;
        if (status === 202 && json?.id) return json.id;
        assert.ok([0, 409, 503].includes(status), `order ${i}: unexpected ${status} ${JSON.stringify(json)}`);
        await sleep(status === 409 ? 20 : 250);
      }
      throw new Error(`order ${i} never accepted`);
    };

    const accepted: string[] = [];
    let next = 0;
    const sellers = Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        accepted.push(await place(i));
      }
    });

    // The faults, at points of the run.
    const atAccepted = (n: number) => waitFor(() => accepted.length >= n, 120_000, `${n} orders accepted`);
    const faults = (async () => {
      await atAccepted(150);
      await adapters!.stop('SIGKILL');
      t.diagnostic(`adapters SIGKILLed at ${accepted.length} accepted`);
      adapters = await startAdapters();
      await atAccepted(400);
      if (restartBroker) {
        t.diagnostic(`RabbitMQ stop_app at ${accepted.length} accepted`);
        await run('rabbitmqctl', ['stop_app']);
        try {
          await sleep(3_000);
        } finally {
          await run('rabbitmqctl', ['start_app']);
          await run('rabbitmqctl', ['await_startup']);
        }
        t.diagnostic(`RabbitMQ started again at ${accepted.length} accepted`);
      }
      await atAccepted(700);
      await adapters!.stop('SIGKILL');
      t.diagnostic(`adapters SIGKILLed at ${accepted.length} accepted`);
      adapters = await startAdapters();
    })();
    await Promise.all([...sellers, faults]);
    t.diagnostic(`gateway answers while placing: ${JSON.stringify(Object.fromEntries(answers))}`);
    assert.equal(new Set(accepted).size, N, 'one order id per Idempotency-Key');

    const statusOf = (id: string) => crm.store.getOrder(id)?.status;
    await waitFor(() => accepted.every((id) => FINAL.has(statusOf(id) as OrderStatus)), 240_000, 'every accepted order in a final state').catch((error: Error) => {
      const open = accepted.filter((id) => !FINAL.has(statusOf(id) as OrderStatus));
      throw new Error(`${error.message}: ${open.length} open, e.g. ${open.slice(0, 5).map((id) => `${id}=${statusOf(id) ?? 'not in CRM'}`).join(', ')}\n${adapters?.stdout().split('\n').slice(-20).join('\n')}`);
    });

    const stats = (await (await fetch(`${crm.url}/crm/stats`)).json()) as { orders: number };
    assert.equal(stats.orders, crmBefore + N, 'exactly one CRM order per accepted order');
    const outcome = { SHIPPED: 0, REJECTED: 0, CANCELLED: 0 } as Record<string, number>;
    for (const id of accepted) {
      const order = crm.store.getOrder(id)!;
      const history = crmHistory(order);
      assert.equal(new Set(history).size, history.length, `${id}: no status applied twice (${history.join(' → ')})`);
      const forward = history.filter((s) => s !== 'REJECTED' && s !== 'CANCELLED');
      assert.deepEqual(forward, LINE.slice(0, forward.length), `${id}: ${history.join(' → ')}`);
      outcome[order.status] = (outcome[order.status] ?? 0) + 1;
      if (order.status === 'REJECTED') {
        assert.equal(order.history?.at(-1)?.reason, 'mes_capacity', `${id}: rejected for capacity`);
        assert.equal(mes.store.manufacturing.get(id), undefined, `${id}: no manufacturing job kept`);
      }
    }
    t.diagnostic(`outcome: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.CANCELLED, 0, 'nobody cancelled');
    assert.ok(outcome.SHIPPED! > 0 && outcome.REJECTED! > 0, 'some shipped, some refused by a full MES');

    // A seller reads its order's final state through the gateway.
    const sample = accepted[N - 1]!;
    const read = await fetch(`${url}/v1/orders/${sample}`, { headers: KEY });
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { status: string }).status, statusOf(sample));
    const rejected = accepted.find((id) => statusOf(id) === 'REJECTED')!;
    const refused = (await (await fetch(`${url}/v1/orders/${rejected}`, { headers: KEY })).json()) as { status: string; status_reason?: string };
    assert.deepEqual([refused.status, refused.status_reason], ['REJECTED', 'mes_capacity'], 'the seller sees why');

    assert.equal(await adapters!.stop('SIGTERM'), 0);
    adapters = undefined;
  });
});
