// Two gateway processes on one config file and one Redis apply a changed
// file without a restart (a new consumer, a lowered plan rate), refuse a
// broken one (each logs the problem's path and keeps serving), and finish
// the requests that were in flight while they reloaded.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startCrmSim, type CrmSimHandle } from '../../sim/crm/start.ts';
import { startMesSim, type MesSimHandle } from '../../sim/mes/start.ts';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NEW_KEY = 'replica-reload-key-0001';
const PRO_KEY = 'demo-pro-key';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

describe('config reload on two gateway replicas (real processes, shared Redis)', () => {
  let crm: CrmSimHandle;
  let mes: MesSimHandle;
  let dir = '';
  let configFile = '';
  const gateways: RunningProcess[] = [];
  const urls: string[] = [];

  const baseDoc = (): Doc => {
    const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Doc;
    for (const [name, file] of Object.entries(doc.contracts as Record<string, string>)) doc.contracts[name] = resolve(file);
    doc.shedding.enabled = false;
    doc.quota.redisTimeoutMs = 2_000;
    doc.plans.standard.rate = { perSecond: 10_000, burst: 0 };
    // Long reads for the in-flight test: a slow CRM must not time out.
    doc.serviceEndpoints.crm.timeoutMs = 20_000;
    return doc;
  };
  /** Writes the file as an editor or `kubectl cp` would: a new file renamed over the old. */
  const write = (doc: Doc | string): string => {
    const text = typeof doc === 'string' ? doc : stringify(doc);
    writeFileSync(`${configFile}.tmp`, text);
    renameSync(`${configFile}.tmp`, configFile);
    return sha256(text).slice(0, 12);
  };
  const versionOf = async (url: string) => ((await (await fetch(`${url}/readyz`)).json()) as { config?: { version: string } }).config?.version;
  const onAll = (version: string) => until(`version ${version} on both replicas`, async () => ((await Promise.all(urls.map(versionOf))).every((v) => v === version) ? true : undefined));
  const usage = (url: string, key: string) => fetch(`${url}/v1/usage`, { headers: { 'x-api-key': key } });

  before(async () => {
    await clearRedis();
    [crm, mes] = await Promise.all([startCrmSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } }), startMesSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } })]);
    dir = mkdtempSync(join(tmpdir(), 'facet-reload-replicas-'));
    configFile = join(dir, 'gateway.config.yml');
    write(baseDoc());
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      urls.push(`http://127.0.0.1:${port}`);
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
    rmSync(dir, { recursive: true, force: true });
  });

  it('a new consumer and a lowered plan rate apply on both replicas without a restart', async () => {
    const pids = gateways.map((g) => g.child.pid);
    for (const url of urls) assert.equal((await usage(url, NEW_KEY)).status, 401);
    const doc = baseDoc();
    doc.consumers.push({ id: 'slr_0200', name: 'Replica Rings', plan: 'standard', keys: [{ id: 'replica-1', sha256: sha256(NEW_KEY) }] });
    doc.plans.standard.rate = { perSecond: 2, burst: 0 };
    const version = write(doc);
    await onAll(version);
    for (const url of urls) {
      // The new seller's key works on this replica.
      await until(`the new key on ${url}`, async () => ((await usage(url, NEW_KEY)).status === 200 ? true : undefined));
      // The lowered rate (2/s, shared in Redis) refuses a burst of 6 that the old one (10,000/s) admitted.
      const statuses = await Promise.all(Array.from({ length: 6 }, () => usage(url, PRO_KEY).then((r) => r.status)));
      assert.ok(statuses.includes(429), `${url}: ${statuses.join(',')}`);
    }
    assert.deepEqual(gateways.map((g) => g.child.pid), pids);
    assert.ok(gateways.every((g) => g.child.exitCode === null), 'no replica restarted');
  });

  it('a broken file changes nothing: both keep serving the old config and log the problem’s path', async () => {
    const serving = await versionOf(urls[0]!);
    const doc = baseDoc();
    doc.pipelines.sellerReads.policies[3].quota.action.cost = 0;
    write(doc);
    for (const [i, gateway] of gateways.entries()) {
      await until(`replica ${i} logs the refusal`, async () => (/config reload refused: .*pipelines\.sellerReads\.policies\[3\]\.quota\.action\.cost: must be a positive integer/.test(gateway.stdout()) ? true : undefined));
    }
    for (const url of urls) {
      assert.equal(await versionOf(url), serving);
      // The consumer of the config still serving is known (its plan's 2/s may refuse it, as a 429).
      assert.notEqual((await usage(url, NEW_KEY)).status, 401);
      assert.match(await (await fetch(`${url}/metrics`)).text(), /facet_config_reloads_total\{outcome="failure"\} [1-9]/);
    }
  });

  it('requests in flight during a reload all complete', async () => {
    // Every CRM call now takes 3 s: reads started now are in flight while the replicas reload.
    await crm.faults.set({ latency_ms: 3_000 });
    try {
      const started = crm.requests.total;
      const reads = urls.flatMap((url) => Array.from({ length: 3 }, (_, i) => fetch(`${url}/v1/orders?limit=${i + 2}`, { headers: { 'x-api-key': 'demo-enterprise-key' } }).then(async (r) => ({ status: r.status, body: await r.text(), at: Date.now() }))));
      // Three distinct reads: the replicas collapse each onto one CRM call (the cache's cross-replica lock).
      await until('the reads to reach the CRM', async () => (crm.requests.total - started >= 3 ? true : undefined), 10_000).catch(async (error: unknown) => {
        throw new Error(`${String(error)}: ${crm.requests.total - started} CRM calls; ${JSON.stringify(await Promise.all(reads))}`);
      });
      const doc = baseDoc();
      doc.plans.standard.description = 'reloaded while requests were in flight';
      const version = write(doc);
      await onAll(version);
      const swappedAt = Date.now();
      const answers = await Promise.all(reads);
      for (const answer of answers) assert.equal(answer.status, 200, answer.body);
      assert.ok(answers.some((a) => a.at > swappedAt), 'some reads were still in flight when both replicas had swapped');
    } finally {
      await crm.faults.reset();
    }
  });

  it('SIGHUP reloads the same file again on that replica only (loaded_at moves, the version stays)', async () => {
    const loaded = async (url: string) => ((await (await fetch(`${url}/readyz`)).json()) as { config: { version: string; loaded_at: string } }).config;
    const [before0, before1] = await Promise.all(urls.map(loaded));
    gateways[0]!.child.kill('SIGHUP');
    const after0 = await until('replica 0 to reload', async () => {
      const now = await loaded(urls[0]!);
      return now.loaded_at !== before0!.loaded_at ? now : undefined;
    });
    assert.equal(after0.version, before0!.version);
    assert.deepEqual(await loaded(urls[1]!), before1);
    assert.equal(gateways[0]!.child.exitCode, null, 'SIGHUP does not end the process');
  });

  it('after reloads, SIGTERM still drains and exits 0', async () => {
    for (const gateway of gateways) assert.equal(await gateway.stop('SIGTERM'), 0, gateway.stderr());
  });
});
