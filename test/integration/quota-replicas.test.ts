// Three gateway processes on one Redis enforce one limit: the quota is
// global, not per replica. Counted per request, exactly; with leases (each
// replica spends units it took from Redis in advance), within the
// documented bound: limit ± replicas × lease units per window.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';
import { startCrmSim, type CrmSimHandle } from '../../sim/crm/start.ts';
import { startMesSim, type MesSimHandle } from '../../sim/mes/start.ts';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

const DAILY = 300;
const REPLICAS = 3;
/** The daily window's lease with the default settings: 5% of 300. */
const DAILY_LEASE = 15;

for (const leases of [false, true]) describe(`quotas across three gateway replicas sharing Redis (${leases ? `leases of ${DAILY_LEASE} daily units` : 'every request counted in Redis'})`, () => {
  let crm: CrmSimHandle;
  let mes: MesSimHandle;
  const gateways: RunningProcess[] = [];
  const ports: number[] = [];

  before(async () => {
    await clearRedis();
    [crm, mes] = await Promise.all([startCrmSim({ logger: false, orderCount: 2000, latency: { baseMs: 1, jitterMs: 1 } }), startMesSim({ logger: false, orderCount: 2000, latency: { baseMs: 1, jitterMs: 1 } })]);
    const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const [name, file] of Object.entries(doc.contracts as Record<string, string>)) doc.contracts[name] = resolve(file);
    doc.plans.free.rate = { perSecond: 10_000, burst: 0 };
    doc.plans.free.dailyQuota = DAILY;
    doc.shedding.enabled = false;
    // A Redis call held up by a busy event loop (three cold processes on two
    // cores) would fail over to the insurance limiter; that path has its own
    // test. Here every decision should come from the shared counters.
    doc.quota.redisTimeoutMs = 2_000;
    // No window reaches minLimit: no lease, every request counted in Redis.
    if (!leases) doc.quota.lease = { minLimit: 1_000_000_000 };
    const dir = mkdtempSync(join(tmpdir(), 'facet-replicas-'));
    const configFile = join(dir, 'gateway.config.yml');
    writeFileSync(configFile, stringify(doc));
    for (let i = 0; i < REPLICAS; i++) {
      const port = await freePort();
      ports.push(port);
      gateways.push(
        await startProcess(
          'entries/gateway.ts',
          { PORT: String(port), HOST: '127.0.0.1', CRM_URL: crm.url, MES_URL: mes.url, REDIS_URL, GATEWAY_CONFIG: configFile, JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'warn', FACET_ADAPTERS: 'external', AMQP_URL: '' },
          /Facet gateway listening/,
        ),
      );
    }
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([crm?.close(), mes?.close()]);
  });

  /** Quota decisions of the free plan per store, summed over the replicas' /metrics. */
  async function decisionsByStore(): Promise<Record<string, number>> {
    const totals: Record<string, number> = {};
    for (const port of ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const match of text.matchAll(/^facet_quota_decisions_total\{([^}]*)\} (\d+)/gm)) {
        if (!match[1]!.includes('plan="free"')) continue;
        const store = /store="(\w+)"/.exec(match[1]!)![1]!;
        totals[store] = (totals[store] ?? 0) + Number(match[2]);
      }
    }
    return totals;
  }

  it(leases ? `600 requests spread over 3 replicas: admitted within ${DAILY} ± ${REPLICAS} × ${DAILY_LEASE}, never more than Redis granted` : `600 requests spread over 3 replicas: exactly ${DAILY} admitted`, async () => {
    // Warm each replica (JIT, pools) with another seller first.
    for (const port of ports) {
      for (let i = 0; i < 5; i++) await (await fetch(`http://127.0.0.1:${port}/v1/materials`, { headers: { 'X-API-Key': 'demo-pro-key' } })).arrayBuffer();
    }
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 600) {
        const i = next++;
        const res = await fetch(`http://127.0.0.1:${ports[i % 3]}/v1/materials`, { headers: { 'X-API-Key': 'demo-free-key' } });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 30 }, worker));
    const admitted = statuses.filter((s) => s === 200).length;
    const refused = statuses.filter((s) => s === 429).length;
    assert.equal(admitted + refused, 600, `unexpected statuses: ${[...new Set(statuses)].join(', ')}`);
    const stores = await decisionsByStore();
    assert.deepEqual(stores, { redis: 600 }, 'every decision made by the shared Redis counters');
    if (!leases) {
      assert.equal(admitted, DAILY, 'atomic counters: no request lost or over-admitted');
      return;
    }
    const bound = REPLICAS * DAILY_LEASE;
    assert.ok(admitted <= DAILY + bound, `over-admission past the bound: ${admitted} admitted, limit ${DAILY} + ${bound}`);
    assert.ok(admitted >= DAILY - bound, `under-admission past the bound: ${admitted} admitted, limit ${DAILY} − ${bound}`);
    // The shared counter holds the units granted to the replicas: never past the limit, never fewer than were spent.
    const redis = new Redis(REDIS_URL);
    try {
      const granted = Number(await redis.get('facet:q:daily:{slr_0001}'));
      assert.ok(granted <= DAILY && admitted <= granted, `granted ${granted}, admitted ${admitted}`);
    } finally {
      redis.disconnect();
    }
  });
});
