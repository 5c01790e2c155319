// Horizontal scaling, for real: three gateway processes and two adapter
// processes on the shared Redis and RabbitMQ (simulators in this process,
// the MES publishing its events on the bus). Quotas are global, the cache is
// shared, each command is consumed once, and a gateway replica killed
// (SIGKILL) while orders pour in loses no accepted order: sellers retry on
// another replica with the same Idempotency-Key.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OrderStatus } from '../../contracts/messages.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { crmHistory, waitFor } from '../adapters/helpers.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { binaryStl } from '../helpers/models.ts';
import { clearRedis } from '../helpers/redis.ts';

const FREE_DAILY = 90;
const ORDERS = 150;
const FINAL: ReadonlySet<OrderStatus> = new Set(['SHIPPED', 'REJECTED', 'CANCELLED']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('three gateways and two adapters on shared Redis and RabbitMQ', () => {
  const dataset = generateDataset(13, 3, 200);
  let cluster: Cluster;
  let urls: string[] = [];

  before(async () => {
    await clearRedis();
    cluster = await startCluster({
      dataset,
      gateways: 3,
      adapters: 2,
      mutateConfig: (doc) => {
        doc.plans.free.rate = { perSecond: 10_000, burst: 0 };
        doc.plans.free.dailyQuota = FREE_DAILY;
        doc.plans.enterprise.rate = { perSecond: 10_000, burst: 10_000 };
        doc.plans.enterprise.concurrentPriceJobs = 100_000; // orders without a quote hold a price-job slot: not what this test measures
        doc.shedding.enabled = false;
        doc.quota.redisTimeoutMs = 2_000;
        // A killed replica's in-flight keys free themselves quickly here (60 s in production).
        const idempotency = (doc.pipelines.sellerOrderCreate.policies as Record<string, any>[]).find((p) => p.idempotency)!; // eslint-disable-line @typescript-eslint/no-explicit-any
        idempotency.idempotency.action.inFlightTtlSec = 2;
      },
    });
    urls = cluster.gatewayUrls;
  });

  after(() => cluster?.close());

  it(`quotas are global: ${FREE_DAILY * 2} requests over three replicas, exactly ${FREE_DAILY} admitted`, async () => {
    // 15 at a time: the quota is under test, not the MES bulkhead behind /v1/materials.
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < FREE_DAILY * 2) {
        const i = next++;
        const res = await fetch(`${urls[i % 3]}/v1/materials`, { headers: { 'X-API-Key': 'demo-free-key' } });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 15 }, worker));
    const count = (status: number) => statuses.filter((s) => s === status).length;
    assert.equal(count(200) + count(429), FREE_DAILY * 2, `statuses: ${[...new Set(statuses)].join(', ')}`);
    assert.equal(count(200), FREE_DAILY);
  });

  it('the cache is shared: a page fetched through one replica is a hit on the others, with no second CRM call', async () => {
    const headers = { 'X-API-Key': 'demo-pro-key' };
    const first = await fetch(`${urls[0]}/v1/orders?limit=4`, { headers });
    assert.match(first.headers.get('cache-status') ?? '', /fwd=miss/);
    const body = await first.text();
    const calls = cluster.crm.requests.get('GET /crm/orders');
    for (const url of urls.slice(1)) {
      const res = await fetch(`${url}/v1/orders?limit=4`, { headers });
      assert.match(res.headers.get('cache-status') ?? '', /hit/);
      assert.equal(await res.text(), body);
    }
    assert.equal(cluster.crm.requests.get('GET /crm/orders'), calls);
  });

  it('the operators’ live stream: a client on each replica sees a new order’s events', { timeout: 60_000 }, async () => {
    const key = { 'x-api-key': 'demo-enterprise-key' };
    const streams = await Promise.all(
      urls.map(async (url) => {
        const controller = new AbortController();
        const res = await fetch(`${url}/internal/v1/orders/stream`, { headers: { authorization: `Bearer ${cluster.operatorToken}` }, signal: controller.signal });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
        const state = { text: '', controller };
        void (async () => {
          const decoder = new TextDecoder();
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) state.text += decoder.decode(chunk, { stream: true });
        })().catch(() => {});
        return state;
      }),
    );
    try {
      const upload = await fetch(`${urls[0]}/v1/models`, { method: 'POST', headers: { ...key, 'content-type': 'application/octet-stream' }, body: binaryStl(20, 4) });
      const modelId = ((await upload.json()) as { id: string }).id;
      const template = dataset.orders[0]!;
      const placed = await fetch(`${urls[2]}/v1/orders`, {
        method: 'POST',
        headers: { ...key, 'content-type': 'application/json', 'idempotency-key': `stream-${cluster.prefix}` },
        body: JSON.stringify({ model_id: modelId, parameters: { material: 'silver_925', size_mm: 12, finish: 'matte' }, customer: template.customer, shipping: template.shipping }),
      });
      assert.equal(placed.status, 202);
      const orderId = ((await placed.json()) as { id: string }).id;
      await waitFor(() => streams.every((s) => s.text.includes(orderId)), 30_000, `every replica's client sees ${orderId}`);
    } finally {
      for (const s of streams) s.controller.abort();
    }
  });

  it(`${ORDERS} orders over the replicas, one replica SIGKILLed mid-way: every 202 ends in the CRM exactly once`, { timeout: 180_000 }, async (t) => {
    const key = { 'x-api-key': 'demo-enterprise-key' };
    const upload = await fetch(`${urls[0]}/v1/models`, { method: 'POST', headers: { ...key, 'content-type': 'application/octet-stream' }, body: binaryStl(40, 5) });
    assert.equal(upload.status, 201);
    const modelId = ((await upload.json()) as { id: string }).id;
    const template = dataset.orders[0]!;
    const { crm, mes, gateways } = cluster;
    const crmBefore = crm.store.size;
    const answers = new Map<string, number>();
    const count = (label: string) => answers.set(label, (answers.get(label) ?? 0) + 1);

    /** A seller: next replica on a dropped connection, the same key until 202. */
    const place = async (i: number): Promise<string> => {
      const body = JSON.stringify({ model_id: modelId, parameters: { material: 'silver_925', size_mm: 10 + (i % 15), finish: 'matte' }, customer: template.customer, shipping: template.shipping });
      for (let attempt = 0; attempt < 200; attempt++) {
        const url = urls[(i + attempt) % 3]!;
        const res = await fetch(`${url}/v1/orders`, { method: 'POST', headers: { ...key, 'content-type': 'application/json', 'idempotency-key': `scale-${cluster.prefix}-${i}` }, body }).catch(() => undefined);
        const status = res?.status ?? 0;
        count(String(status));
        const json = (await res?.json().catch(() => undefined)) as { id?: string } | undefined;
        if (status === 202 && json?.id) return json.id;
        assert.ok([0, 409, 503].includes(status), `order ${i}: unexpected ${status} ${JSON.stringify(json)}`);
        await sleep(status === 409 ? 200 : 20);
      }
      throw new Error(`order ${i} never accepted`);
    };

    const accepted: string[] = [];
    let next = 0;
    const sellers = Array.from({ length: 9 }, async () => {
      while (next < ORDERS) accepted.push(await place(next++));
    });
    const kill = (async () => {
      await waitFor(() => accepted.length >= ORDERS / 3, 60_000, 'a third accepted');
      const code = await gateways[1]!.stop('SIGKILL');
      t.diagnostic(`gateway 2 SIGKILLed at ${accepted.length} accepted (exit ${code})`);
    })();
    await Promise.all([...sellers, kill]);
    t.diagnostic(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
    assert.ok((answers.get('0') ?? 0) > 0, 'the kill cut requests in flight');
    assert.equal(new Set(accepted).size, ORDERS, 'one order id per key');

    const statusOf = (id: string) => crm.store.getOrder(id)?.status;
    await waitFor(() => accepted.every((id) => FINAL.has(statusOf(id) as OrderStatus)), 90_000, 'every accepted order final');
    const stats = (await (await fetch(`${crm.url}/crm/stats`)).json()) as { orders: number };
    assert.equal(stats.orders, crmBefore + ORDERS, 'each command consumed once: one CRM order per accepted order');
    for (const id of accepted) {
      const history = crmHistory(crm.store.getOrder(id));
      assert.equal(new Set(history).size, history.length, `${id}: no status applied twice (${history.join(' → ')})`);
      assert.equal(mes.store.prices.forOrder(id).length, 1, `${id}: one price job`);
    }
    // Both adapter processes took a share of the commands (competing consumers).
    const handled = await Promise.all(
      cluster.adapters.map(async (_, i) => {
        const text = await cluster.adapterMetrics(i);
        return [...text.matchAll(/^facet_bus_handled_total\{queue="saga\.commands",outcome="ack"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
      }),
    );
    t.diagnostic(`saga commands acked per adapter process: ${handled.join(', ')}`);
    assert.ok(
      handled.every((n) => n > 0),
      `both adapters consumed: ${handled.join(', ')}`,
    );
  });
});
