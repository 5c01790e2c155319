// Three gateway processes on one Redis enforce one limit: the quota is
// global, not per replica.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startCrmSim, type CrmSimHandle } from '../../sim/crm/start.ts';
import { startMesSim, type MesSimHandle } from '../../sim/mes/start.ts';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

const DAILY = 300;

describe('quotas across three gateway replicas sharing Redis', () => {
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
    const dir = mkdtempSync(join(tmpdir(), 'facet-replicas-'));
    const configFile = join(dir, 'gateway.config.yml');
    writeFileSync(configFile, stringify(doc));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      ports.push(port);
      gateways.push(
        await startProcess(
          'gateway/main.ts',
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

  it(`600 requests spread over 3 replicas: exactly ${DAILY} admitted (at most +1%)`, async () => {
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
    assert.ok(admitted <= DAILY * 1.01, `admitted ${admitted}`);
    assert.equal(admitted, DAILY, 'atomic counters: no request lost or over-admitted');
  });
});
