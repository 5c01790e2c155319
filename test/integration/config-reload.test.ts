// A gateway reloading its config in process (gateway/reload.ts): a
// Kubernetes-style ConfigMap swap (`..data` symlink replaced) is seen, a
// broken file is refused with its paths and changes nothing, in-process
// quota counters survive a reload, and /readyz names the config's version.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { startReloadingGateway, type ReloadingGateway } from '../../gateway/reload.ts';
import { startCrmSim, type CrmSimHandle } from '../../sim/crm/start.ts';
import { startMesSim, type MesSimHandle } from '../../sim/mes/start.ts';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FREE_KEY = 'demo-free-key';
const NEW_KEY = 'reload-test-key-0001';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('config reload in process (ConfigMap-style symlinks, no Redis)', () => {
  let crm: CrmSimHandle;
  let mes: MesSimHandle;
  let gateway: ReloadingGateway;
  let url = '';
  let dir = '';
  let revision = 0;
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const log = {
    info: (fields: object, message?: string) => lines.push({ level: 'info', fields: fields as Record<string, unknown>, message: message ?? '' }),
    warn: (fields: object, message?: string) => lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message: message ?? '' }),
    error: (fields: object, message?: string) => lines.push({ level: 'error', fields: fields as Record<string, unknown>, message: message ?? '' }),
  } as unknown as Parameters<typeof startReloadingGateway>[0]['log'];

  const baseDoc = (): Doc => {
    const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Doc;
    for (const [name, file] of Object.entries(doc.contracts as Record<string, string>)) doc.contracts[name] = resolve(file);
    doc.shedding.enabled = false;
    doc.plans.free.rate = { perSecond: 10_000, burst: 0 };
    return doc;
  };

  /** Publishes a config as the kubelet does: a new revision folder, then `..data` swapped to it in one rename. */
  const publish = (text: string): string => {
    revision += 1;
    const folder = join(dir, `..rev_${revision}`);
    mkdirSync(folder);
    writeFileSync(join(folder, 'gateway.config.yml'), text);
    symlinkSync(`..rev_${revision}`, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    return sha256(text).slice(0, 12);
  };

  const readyz = async () => (await (await fetch(`${url}/readyz`)).json()) as { config?: { version: string; loaded_at: string } };
  const usage = (key: string) => fetch(`${url}/v1/usage`, { headers: { 'x-api-key': key } });

  before(async () => {
    [crm, mes] = await Promise.all([startCrmSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } }), startMesSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } })]);
    dir = mkdtempSync(join(tmpdir(), 'facet-reload-'));
    publish(stringify(baseDoc()));
    symlinkSync('..data/gateway.config.yml', join(dir, 'gateway.config.yml'));
    gateway = await startReloadingGateway({
      file: join(dir, 'gateway.config.yml'),
      env: { CRM_URL: crm.url, MES_URL: mes.url, JWT_SECRET: 'x'.repeat(40), PORT: '0', HOST: '127.0.0.1' },
      logger: false,
      log,
      debounceMs: 100,
    });
    url = await gateway.listen(0, '127.0.0.1');
  });
  after(async () => {
    await gateway?.close();
    await Promise.all([crm?.close(), mes?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('/readyz reports the version (sha256 prefix of the file) and when it was loaded', async () => {
    const body = await readyz();
    assert.equal(body.config?.version, sha256(readFileSync(join(dir, 'gateway.config.yml'), 'utf8')).slice(0, 12));
    assert.ok(!Number.isNaN(Date.parse(body.config?.loaded_at ?? '')));
  });

  it('the reloading server answers like the app: a Host-less HTTP/1.1 request gets problem+json', async () => {
    const { port } = new URL(url);
    const raw = await new Promise<string>((resolveRaw, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.end('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolveRaw(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    assert.match(raw, /application\/problem\+json/);
  });

  it('a ConfigMap swap adds a consumer without a restart, and in-process quota counters carry over', async () => {
    // Count some of the free seller's daily quota on the first config.
    for (let i = 0; i < 3; i++) assert.equal((await usage(FREE_KEY)).status, 200);
    const dailyRemaining = async () => ((await (await usage(FREE_KEY)).json()) as { windows: { name: string; remaining: number }[] }).windows.find((w) => w.name === 'daily')?.remaining ?? NaN;
    const before = await dailyRemaining();
    assert.equal((await usage(NEW_KEY)).status, 401);

    const doc = baseDoc();
    doc.consumers.push({ id: 'slr_0100', name: 'Reloaded Rings', plan: 'standard', keys: [{ id: 'reload-1', sha256: sha256(NEW_KEY) }] });
    const version = publish(stringify(doc));
    await until('the new config on /readyz', async () => ((await readyz()).config?.version === version ? true : undefined));
    assert.equal((await usage(NEW_KEY)).status, 200);
    // The free seller's counted units are still counted (in-process limiters are kept across reloads).
    // Each /v1/usage call counts one unit: one more, not a fresh window.
    assert.equal(await dailyRemaining(), before - 1);
    assert.ok(lines.some((l) => l.message === 'config reloaded' && l.fields.version === version));
  });

  it('a broken file is refused with each problem’s path; the old config keeps serving', async () => {
    const serving = (await readyz()).config?.version;
    const doc = baseDoc();
    doc.pipelines.sellerUsage.policies[1].quota.action.cost = 0;
    doc.consumers[0].plan = 'platinum';
    publish(stringify(doc));
    const refused = await until('the refusal in the log', async () => lines.find((l) => l.level === 'error' && String(l.message).startsWith('config reload refused')));
    const problems = refused.fields.problems as string[];
    assert.ok(problems.includes('pipelines.sellerUsage.policies[1].quota.action.cost: must be a positive integer'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('consumers[0].plan: unknown plan "platinum"')), problems.join('\n'));
    assert.equal((await readyz()).config?.version, serving);
    // The previous config's consumers still work: the new seller's key was not lost.
    assert.equal((await usage(NEW_KEY)).status, 200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /facet_config_reloads_total\{outcome="failure"\} [1-9]/);
    assert.match(metrics, /facet_config_reloads_total\{outcome="success"\} [1-9]/);
  });

  it('routes, pipelines and service endpoints follow the new config; cached entries stay hits', async () => {
    const crm2 = await startCrmSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } });
    try {
      const read = (query: string) => fetch(`${url}/v1/orders?${query}`, { headers: { 'x-api-key': 'demo-pro-key' } });
      // A cached page before the reload.
      assert.equal((await read('limit=3')).status, 200);
      assert.match((await read('limit=3')).headers.get('cache-status') ?? '', /hit/);
      assert.equal((await fetch(`${url}/v1/keys`, { headers: { 'x-api-key': 'demo-pro-key' } })).status, 200);
      const doc = baseDoc();
      doc.consumers.push({ id: 'slr_0100', name: 'Reloaded Rings', plan: 'standard', keys: [{ id: 'reload-1', sha256: sha256(NEW_KEY) }] });
      doc.serviceEndpoints.crm.url = crm2.url;
      delete doc.pipelines.sellerKeys;
      delete doc.apiEndpoints.sellerKeys;
      delete doc.apiEndpoints.sellerKeyRotate;
      const version = publish(stringify(doc));
      await until('the new config on /readyz', async () => ((await readyz()).config?.version === version ? true : undefined));
      // The route is gone with its pipeline.
      assert.equal((await fetch(`${url}/v1/keys`, { headers: { 'x-api-key': 'demo-pro-key' } })).status, 404);
      // The cached page is still a hit (the cache outlives the config); a new page goes to the new CRM.
      assert.match((await read('limit=3')).headers.get('cache-status') ?? '', /hit/);
      const before = crm2.requests.total;
      assert.equal((await read('limit=4')).status, 200);
      assert.ok(crm2.requests.total > before, 'the new service endpoint answered');
    } finally {
      await crm2.close();
    }
  });

  it('a forced reload (SIGHUP) of the same text rebuilds, and a lowered plan rate applies at once', async () => {
    const doc = baseDoc();
    doc.consumers.push({ id: 'slr_0100', name: 'Reloaded Rings', plan: 'standard', keys: [{ id: 'reload-1', sha256: sha256(NEW_KEY) }] });
    doc.plans.standard.rate = { perSecond: 1, burst: 0 };
    const version = publish(stringify(doc));
    await until('the new config on /readyz', async () => ((await readyz()).config?.version === version ? true : undefined));
    const statuses = await Promise.all(Array.from({ length: 5 }, () => usage(NEW_KEY).then((r) => r.status)));
    assert.ok(statuses.includes(429), `a lowered rate refuses: ${statuses.join(',')}`);
    const outcome = await gateway.reload('SIGHUP', true);
    assert.equal(outcome.outcome, 'success');
    assert.equal((await readyz()).config?.version, version);
  });
});
