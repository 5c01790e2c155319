// Facet on a real Redis Cluster (three masters, three replicas, started by
// this test on loopback): two gateway processes and an adapters process
// with REDIS_CLUSTER_NODES. Quotas stay global across the replicas, a cache
// hit is shared, the cache's generation channel reaches every subscriber,
// orders flow to the CRM. Then the master holding the writing seller's
// quota slot is SIGKILLed under a steady mix of reads and writes: once its
// replica is promoted, everything answers again without a restart, every
// accepted order ends in the CRM exactly once, and the 5xx window is
// measured and printed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OrderStatus } from '../../contracts/messages.ts';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { RedisCacheStore } from '../../policies/cache/redis-store.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { crmHistory, waitFor } from '../adapters/helpers.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { binaryStl } from '../helpers/models.ts';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster.ts';

const FREE_DAILY = 60;
const ORDERS = 120;
const WRITER_SELLER = 'slr_0003'; // demo-enterprise-key
const FINAL: ReadonlySet<OrderStatus> = new Set(['SHIPPED', 'REJECTED', 'CANCELLED']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Facet on a Redis Cluster (3 masters + 3 replicas)', { timeout: 600_000 }, () => {
  const dataset = generateDataset(17, 3, 200);
  let redisCluster: RedisClusterHandle;
  let cluster: Cluster;
  let urls: string[] = [];
  const clients: RedisClient[] = [];

  before(async () => {
    redisCluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    cluster = await startCluster({
      dataset,
      gateways: 2,
      adapters: 1,
      redisEnv: { REDIS_CLUSTER_NODES: redisCluster.seeds },
      retryDelaysMs: [200, 500, 1000],
      mutateConfig: (doc) => {
        doc.plans.free.rate = { perSecond: 10_000, burst: 0 };
        doc.plans.free.dailyQuota = FREE_DAILY;
        doc.plans.enterprise.rate = { perSecond: 10_000, burst: 10_000 };
        // The readers (demo-pro-key, plan standard) poll every 20 ms: their 50/s would refuse them (and
        // during the failover, the insurance share even sooner); quotas under failover are not what they measure.
        doc.plans.standard.rate = { perSecond: 10_000, burst: 10_000 };
        doc.plans.enterprise.concurrentPriceJobs = 100_000; // orders without a quote hold a price-job slot: not what this test measures
        doc.shedding.enabled = false;
        doc.quota.redisTimeoutMs = 1_000;
        const idempotency = (doc.pipelines.sellerOrderCreate.policies as Record<string, any>[]).find((p) => p.idempotency)!; // eslint-disable-line @typescript-eslint/no-explicit-any
        idempotency.idempotency.action.inFlightTtlSec = 2;
      },
    });
    urls = cluster.gatewayUrls;
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.close();
    await redisCluster?.close();
  });

  it(`quotas are global: ${FREE_DAILY * 2} requests over two replicas, exactly ${FREE_DAILY} admitted`, async () => {
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < FREE_DAILY * 2) {
        const i = next++;
        const res = await fetch(`${urls[i % 2]}/v1/materials`, { headers: { 'X-API-Key': 'demo-free-key' } });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const count = (status: number) => statuses.filter((s) => s === status).length;
    assert.equal(count(200) + count(429), FREE_DAILY * 2, `statuses: ${[...new Set(statuses)].join(', ')}`);
    assert.equal(count(200), FREE_DAILY);
    // The seller's windows share a hash tag: one slot, one master.
    const slots = await Promise.all(['rate', 'daily'].map((w) => redisCluster.cli(redisCluster.nodes[0]!.port, 'cluster', 'keyslot', `facet:q:${w}:{slr_0001}`)));
    assert.equal(slots[0], slots[1]);
  });

  it('the cache is shared: a page fetched through one replica is a hit on the other, with no second CRM call', async () => {
    const headers = { 'X-API-Key': 'demo-pro-key' };
    const first = await fetch(`${urls[0]}/v1/orders?limit=4`, { headers });
    assert.equal(first.status, 200);
    assert.match(first.headers.get('cache-status') ?? '', /fwd=miss/);
    const body = await first.text();
    const calls = cluster.crm.requests.get('GET /crm/orders');
    const res = await fetch(`${urls[1]}/v1/orders?limit=4`, { headers });
    assert.match(res.headers.get('cache-status') ?? '', /hit/);
    assert.equal(await res.text(), body);
    assert.equal(cluster.crm.requests.get('GET /crm/orders'), calls);
  });

  it('the generation channel works on the Cluster: a bump on one client reaches the subscriber of another', async () => {
    const a = createRedis({ target: { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: redisCluster.nodes[0]!.port }] }, commandTimeoutMs: 2_000 });
    const b = createRedis({ target: { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: redisCluster.nodes[3]!.port }] }, commandTimeoutMs: 2_000 });
    clients.push(a, b);
    await waitFor(() => a.status === 'ready' && b.status === 'ready', 20_000, 'cluster clients ready');
    const publisher = new RedisCacheStore(a);
    const subscriber = new RedisCacheStore(b);
    try {
      const seen: string[] = [];
      subscriber.onGeneration((scope, generation) => seen.push(`${scope}:${generation}`));
      const scope = `seller:cluster-test-${cluster.prefix}`;
      // The subscription is made in the background: bump until it is heard.
      await waitFor(
        async () => {
          await publisher.bumpGeneration(scope);
          return seen.some((s) => s.startsWith(`${scope}:`));
        },
        20_000,
        'a generation bump heard by the other client',
      );
      assert.ok((await subscriber.readGeneration(scope)) >= 1);
    } finally {
      await publisher.close();
      await subscriber.close();
    }
  });

  it(`${ORDERS} orders under reads; the master of ${WRITER_SELLER}'s quota slot is SIGKILLed: failover, no order lost or duplicated`, { timeout: 400_000 }, async (t) => {
    const key = { 'x-api-key': 'demo-enterprise-key' };
    const upload = await fetch(`${urls[0]}/v1/models`, { method: 'POST', headers: { ...key, 'content-type': 'application/octet-stream' }, body: binaryStl(40, 5) });
    assert.equal(upload.status, 201);
    const modelId = ((await upload.json()) as { id: string }).id;
    const template = dataset.orders[0]!;
    const { crm, mes } = cluster;
    const crmBefore = crm.store.size;
    const answers: { at: number; ms: number; status: number; kind: 'read' | 'write' }[] = [];

    const place = async (i: number): Promise<string> => {
      const body = JSON.stringify({ model_id: modelId, parameters: { material: 'silver_925', size_mm: 10 + (i % 15), finish: 'matte' }, customer: template.customer, shipping: template.shipping });
      for (let attempt = 0; attempt < 600; attempt++) {
        const url = urls[(i + attempt) % 2]!;
        const started = Date.now();
        const res = await fetch(`${url}/v1/orders`, { method: 'POST', headers: { ...key, 'content-type': 'application/json', 'idempotency-key': `rc-${cluster.prefix}-${i}` }, body }).catch(() => undefined);
        const status = res?.status ?? 0;
        answers.push({ at: Date.now(), ms: Date.now() - started, status, kind: 'write' });
        const json = (await res?.json().catch(() => undefined)) as { id?: string } | undefined;
        if (status === 202 && json?.id) return json.id;
        assert.ok([0, 409, 503].includes(status), `order ${i}: unexpected ${status} ${JSON.stringify(json)}`);
        await sleep(status === 409 ? 200 : 50);
      }
      throw new Error(`order ${i} never accepted`);
    };

    let writing = true;
    const reader = async (r: number) => {
      let n = 0;
      while (writing) {
        const path = n % 2 === 0 ? `/v1/orders?limit=${2 + (n % 5)}` : '/v1/materials';
        const started = Date.now();
        const res = await fetch(`${urls[(r + n) % 2]}${path}`, { headers: { 'x-api-key': 'demo-pro-key' } }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => undefined);
        answers.push({ at: Date.now(), ms: Date.now() - started, status: res?.status ?? 0, kind: 'read' });
        n++;
        await sleep(20);
      }
    };

    const victim = await redisCluster.masterOf(`{${WRITER_SELLER}}`);
    const accepted: string[] = [];
    let next = 0;
    let killedAt = 0;
    let healthyAt = 0;
    const readers = Array.from({ length: 2 }, (_, r) => reader(r));
    // A failed seller stops the others and the chaos at once (not after their deadlines).
    let failed = false;
    const unlessFailed = (check: () => boolean) => () => {
      if (failed) throw new Error('a seller failed');
      return check();
    };
    const writers = Array.from({ length: 6 }, async () => {
      try {
        while (next < ORDERS && !failed) accepted.push(await place(next++));
      } catch (error) {
        failed = true;
        throw error;
      }
    });
    const kill = (async () => {
      await waitFor(unlessFailed(() => accepted.length >= ORDERS / 3), 120_000, 'a third accepted');
      killedAt = Date.now();
      await redisCluster.kill(victim);
      t.diagnostic(`master on port ${victim} SIGKILLed at ${accepted.length} accepted`);
      await redisCluster.waitHealthy(60_000, victim);
      healthyAt = Date.now();
      t.diagnostic(`cluster_state ok again, replica promoted, ${healthyAt - killedAt} ms after the kill`);
    })();
    try {
      await Promise.all([...writers, kill]);
    } catch (error) {
      failed = true; // stops any seller's loop, and the readers
      writing = false;
      throw error;
    }
    // Reads keep going a little after the last write, past the failover.
    await sleep(3_000);
    writing = false;
    await Promise.all(readers);

    const failures = answers.filter((a) => a.status >= 500 || a.status === 0);
    const window = failures.length > 0 ? { first: failures[0]!.at - killedAt, last: failures.at(-1)!.at - killedAt } : undefined;
    const tally = (kind: 'read' | 'write') => {
      const counts = new Map<number, number>();
      for (const a of answers) if (a.kind === kind) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
      return JSON.stringify(Object.fromEntries(counts));
    };
    t.diagnostic(`reads: ${tally('read')}; writes: ${tally('write')}`);
    t.diagnostic(
      window
        ? `5xx window: ${failures.length} answers of ${answers.length} were 5xx/no answer, from ${window.first} ms to ${window.last} ms after the kill (${window.last - window.first} ms wide); failover (cluster ok) took ${healthyAt - killedAt} ms`
        : `no 5xx at all across the failover (cluster ok after ${healthyAt - killedAt} ms)`,
    );
    // The load was steady: answers kept coming while the master was down.
    const during = answers.filter((a) => a.at - a.ms >= killedAt && a.at - a.ms <= healthyAt);
    const slowest = Math.max(0, ...during.map((a) => a.ms));
    const sorted = during.map((a) => a.ms).sort((x, y) => x - y);
    t.diagnostic(`${during.length} requests started during the failover; p50 ${sorted[Math.floor(sorted.length / 2)] ?? 0} ms, p99 ${sorted[Math.floor(sorted.length * 0.99)] ?? 0} ms, slowest ${slowest} ms`);
    assert.ok(during.length > 0, 'requests were in flight during the failover');
    assert.equal(new Set(accepted).size, ORDERS, 'one order id per key');
    for (const a of answers.filter((x) => x.kind === 'read')) assert.ok([200, 503].includes(a.status), `a read answered ${a.status}`);

    // Everything answers again, without a restart: fresh reads and a fresh order, first time.
    for (const url of urls) {
      for (const path of ['/v1/orders?limit=3', '/v1/materials']) {
        const res = await fetch(`${url}${path}`, { headers: { 'x-api-key': 'demo-pro-key' } });
        await res.arrayBuffer();
        assert.equal(res.status, 200, `${url}${path} after the failover`);
      }
    }
    const after = await fetch(`${urls[1]}/v1/orders`, {
      method: 'POST',
      headers: { ...key, 'content-type': 'application/json', 'idempotency-key': `rc-${cluster.prefix}-after` },
      body: JSON.stringify({ model_id: modelId, parameters: { material: 'silver_925', size_mm: 11, finish: 'matte' }, customer: template.customer, shipping: template.shipping }),
    });
    assert.equal(after.status, 202, 'an order after the failover is accepted at once');
    accepted.push(((await after.json()) as { id: string }).id);

    const statusOf = (id: string) => crm.store.getOrder(id)?.status;
    await waitFor(() => accepted.every((id) => FINAL.has(statusOf(id) as OrderStatus)), 180_000, 'every accepted order final');
    const stats = (await (await fetch(`${crm.url}/crm/stats`)).json()) as { orders: number };
    assert.equal(stats.orders, crmBefore + ORDERS + 1, 'one CRM order per accepted order: none lost, none duplicated');
    for (const id of accepted) {
      const history = crmHistory(crm.store.getOrder(id));
      assert.equal(new Set(history).size, history.length, `${id}: no status applied twice (${history.join(' → ')})`);
      assert.equal(mes.store.prices.forOrder(id).length, 1, `${id}: one price job`);
    }
  });
});
