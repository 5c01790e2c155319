// Sellers' API keys on two gateway processes sharing Redis: a key an
// operator issues on one replica works on both at once; revoked, both
// refuse it within a second (every request that starts half a second after
// the revocation is refused); a rotated key's predecessor works on both
// inside the overlap and on neither after it. No restart anywhere.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { demoOperatorToken } from '../../entries/demo.ts';
import { MEMO_MS } from '../../platform/keys/seller-keys.ts';
import { startCrmSim, type CrmSimHandle } from '../../sim/crm/start.ts';
import { startMesSim, type MesSimHandle } from '../../sim/mes/start.ts';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';
import { clearRedis, REDIS_URL } from '../helpers/redis.ts';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const JWT_SECRET = 'replica-keys-secret-'.padEnd(40, 'x');
const OVERLAP_SEC = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('seller keys on two gateway replicas (real processes, shared Redis)', () => {
  let crm: CrmSimHandle;
  let mes: MesSimHandle;
  let dir = '';
  let operator: Record<string, string> = {};
  const gateways: RunningProcess[] = [];
  const urls: string[] = [];

  const usage = (url: string, key: string) => fetch(`${url}/v1/usage`, { headers: { 'x-api-key': key } }).then((r) => r.status);
  const issue = async (url: string, seller: string) => {
    const response = await fetch(`${url}/internal/v1/sellers/${seller}/keys`, { method: 'POST', headers: operator });
    assert.equal(response.status, 201);
    return (await response.json()) as { id: string; key: string };
  };

  before(async () => {
    await clearRedis();
    [crm, mes] = await Promise.all([startCrmSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } }), startMesSim({ logger: false, latency: { baseMs: 1, jitterMs: 1 } })]);
    const doc = parse(readFileSync('gateway.config.yml', 'utf8')) as Doc;
    for (const [name, file] of Object.entries(doc.contracts as Record<string, string>)) doc.contracts[name] = resolve(file);
    doc.shedding.enabled = false;
    doc.quota.redisTimeoutMs = 2_000;
    // The polling below sends a revoked key many times: no address block (it would answer 429 instead).
    doc.quota.invalidKeyAttempts = 10_000;
    doc.plans.free.rate = { perSecond: 10_000, burst: 0 };
    doc.keys = { rotationOverlapSec: OVERLAP_SEC };
    dir = mkdtempSync(join(tmpdir(), 'facet-keys-replicas-'));
    const configFile = join(dir, 'gateway.config.yml');
    writeFileSync(configFile, stringify(doc));
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      urls.push(`http://127.0.0.1:${port}`);
      gateways.push(
        await startProcess(
          'entries/gateway.ts',
          { PORT: String(port), HOST: '127.0.0.1', CRM_URL: crm.url, MES_URL: mes.url, REDIS_URL, GATEWAY_CONFIG: configFile, JWT_SECRET, LOG_LEVEL: 'warn', FACET_ADAPTERS: 'external', AMQP_URL: '' },
          /Facet gateway listening/,
        ),
      );
    }
    operator = { authorization: `Bearer ${await demoOperatorToken(JWT_SECRET)}` };
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([crm?.close(), mes?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a key issued on one replica works on both at once; revoked, both refuse it within a second', async () => {
    const [a, b] = urls as [string, string];
    const { id, key } = await issue(a, 'slr_0001');
    assert.deepEqual(await Promise.all([usage(a, key), usage(b, key)]), [200, 200]);
    // Both replicas now remember the key as good: the revocation must reach past that.
    const revoke = await fetch(`${a}/internal/v1/sellers/slr_0001/keys/${id}`, { method: 'DELETE', headers: operator });
    assert.equal(revoke.status, 204);
    const revokedAt = Date.now();
    const late: { url: string; status: number; startedMs: number }[] = [];
    while (Date.now() - revokedAt < 1_000 + 200) {
      for (const url of urls) {
        const startedMs = Date.now() - revokedAt;
        const status = await usage(url, key);
        if (startedMs >= MEMO_MS) late.push({ url, status, startedMs });
      }
      await sleep(50);
    }
    assert.ok(late.some((r) => r.url === a) && late.some((r) => r.url === b), 'both replicas were asked after the memo time');
    for (const r of late) assert.equal(r.status, 401, `${r.url} at +${r.startedMs} ms`);
    // The audit trail (written even at LOG_LEVEL=warn): who issued and revoked which seller's key, on the replica that did it.
    const audit = gateways[0]!.stdout().split('\n').filter((l) => l.includes('"audit":true'));
    assert.ok(audit.some((l) => l.includes('"action":"seller_key.created"') && l.includes(`"key_id":"${id}"`) && l.includes('"actor":"operator:op_demo"') && l.includes('"seller":"slr_0001"')), audit.join('\n'));
    assert.ok(audit.some((l) => l.includes('"action":"seller_key.revoked"') && l.includes(`"key_id":"${id}"`)), audit.join('\n'));
    for (const gateway of gateways) assert.ok(!gateway.stdout().includes(key), 'no replica logs the key');
  });

  it('a rotated key’s predecessor works on both replicas inside the overlap, on neither after it', async () => {
    const [a, b] = urls as [string, string];
    const first = await issue(b, 'slr_0002');
    const rotate = await fetch(`${a}/v1/keys/rotate`, { method: 'POST', headers: { 'x-api-key': first.key } });
    assert.equal(rotate.status, 201);
    const next = (await rotate.json()) as { key: string; previous: { id: string; expires_at: string } };
    assert.equal(next.previous.id, first.id);
    const ends = Date.parse(next.previous.expires_at);
    if (Date.now() < ends - 500) assert.deepEqual(await Promise.all([usage(a, first.key), usage(b, first.key)]), [200, 200]);
    assert.deepEqual(await Promise.all([usage(a, next.key), usage(b, next.key)]), [200, 200]);
    await sleep(Math.max(0, ends - Date.now()) + MEMO_MS + 200);
    assert.deepEqual(await Promise.all([usage(a, first.key), usage(b, first.key)]), [401, 401]);
    assert.deepEqual(await Promise.all([usage(a, next.key), usage(b, next.key)]), [200, 200]);
  });
});
