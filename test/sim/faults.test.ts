import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'undici';
import { startCrmSim, startMesSim } from '../../sim/index.ts';
import type { CrmSimHandle, Faults } from '../../sim/index.ts';
import { http, putFaults, tcpConnect } from './helpers.ts';

const FAST = { latency: { baseMs: 0, jitterMs: 0 } };

describe('fault injection', () => {
  let crm: CrmSimHandle;
  before(async () => {
    crm = await startCrmSim({ orderCount: 300, sellerCount: 3, ...FAST });
  });
  after(() => crm.close());

  it('reads, merges, validates and resets faults on the admin port', async () => {
    assert.deepEqual((await http(`${crm.adminUrl}/_sim/faults`)).body, { latency_ms: 0, error_rate: 0, down: false, hang: false });
    const set = await putFaults(crm.adminUrl, { latency_ms: 5 });
    assert.deepEqual(set.body, { latency_ms: 5, error_rate: 0, down: false, hang: false });
    const merged = await putFaults(crm.adminUrl, { error_rate: 0 });
    assert.equal((merged.body as unknown as Faults).latency_ms, 5);
    for (const [body, field] of [
      [{ error_rate: 2 }, 'error_rate'],
      [{ latency_ms: -1 }, 'latency_ms'],
      [{ down: 'yes' }, 'down'],
      [{ explode: true }, 'explode'],
    ] as const) {
      const res = await putFaults(crm.adminUrl, body);
      assert.equal(res.status, 400);
      assert.equal(res.body.field, field);
    }
    assert.equal((await putFaults(crm.adminUrl, [1, 2])).status, 400);
    const reset = await http(`${crm.adminUrl}/_sim/faults`, { method: 'DELETE' });
    assert.deepEqual(reset.body, { latency_ms: 0, error_rate: 0, down: false, hang: false });
    // Also served on the API port.
    assert.equal((await http(`${crm.url}/_sim/faults`)).status, 200);
  });

  it('error_rate 1 answers 500 to API requests but not to /healthz', async () => {
    await putFaults(crm.adminUrl, { error_rate: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await http(`${crm.url}/crm/sellers`);
        assert.deepEqual([res.status, res.body], [500, { error: 'simulated failure' }]);
      }
      assert.equal((await http(`${crm.url}/healthz`)).status, 200);
    } finally {
      await putFaults(crm.adminUrl, { error_rate: 0 });
    }
    assert.equal((await http(`${crm.url}/crm/sellers`)).status, 200);
  });

  it('latency_ms delays API requests', async () => {
    await putFaults(crm.adminUrl, { latency_ms: 150 });
    try {
      const started = performance.now();
      assert.equal((await http(`${crm.url}/crm/sellers`)).status, 200);
      const took = performance.now() - started;
      assert.ok(took >= 145 && took < 2000, `took ${took} ms`);
      const health = performance.now();
      await http(`${crm.url}/healthz`);
      assert.ok(performance.now() - health < 100);
    } finally {
      await http(`${crm.adminUrl}/_sim/faults`, { method: 'DELETE' });
    }
  });

  it('down refuses connections, kills keep-alive ones, keeps admin up and recovers on the same port', async () => {
    const client = new Client(crm.url);
    try {
      const warm = await client.request({ path: '/crm/sellers', method: 'GET' });
      assert.equal(warm.statusCode, 200);
      await warm.body.dump();

      await putFaults(crm.adminUrl, { down: true });
      assert.equal(await tcpConnect(crm.url), 'ECONNREFUSED');
      await assert.rejects(fetch(`${crm.url}/healthz`), (error: Error & { cause?: { code?: string } }) => {
        assert.equal(error.cause?.code, 'ECONNREFUSED');
        return true;
      });
      await assert.rejects(client.request({ path: '/crm/sellers', method: 'GET' }));
      const admin = await http(`${crm.adminUrl}/_sim/faults`);
      assert.equal((admin.body as unknown as Faults).down, true);

      await putFaults(crm.adminUrl, { down: false });
      assert.equal(await tcpConnect(crm.url), 'connected');
      assert.equal((await http(`${crm.url}/crm/sellers`)).status, 200);
    } finally {
      await client.close();
    }
  });

  it('down requested on the API port itself still answers, then goes down', async () => {
    const res = await putFaults(crm.url, { down: true });
    assert.equal(res.status, 200);
    assert.equal(await tcpConnect(crm.url), 'ECONNREFUSED');
    await http(`${crm.adminUrl}/_sim/faults`, { method: 'DELETE' });
    assert.equal((await http(`${crm.url}/healthz`)).status, 200);
  });

  it('hang holds requests until cleared', async () => {
    await putFaults(crm.adminUrl, { hang: true });
    await assert.rejects(http(`${crm.url}/crm/sellers`, { signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
    await assert.rejects(http(`${crm.url}/healthz`, { signal: AbortSignal.timeout(200) }), { name: 'TimeoutError' });
    const held = http(`${crm.url}/crm/sellers`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Cleared through the API port, which /_sim is never held on.
    await http(`${crm.url}/_sim/faults`, { method: 'DELETE' });
    assert.equal((await held).status, 200);
    assert.equal((await http(`${crm.url}/crm/sellers`)).status, 200);
  });

  it('close() ends held requests and starting faults apply from the start', async () => {
    const mes = await startMesSim({ orderCount: 20, sellerCount: 2, ...FAST, faults: { hang: true } });
    const held = http(`${mes.url}/mes/materials`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await mes.close();
    assert.ok((await held) instanceof Error);

    const down = await startCrmSim({ orderCount: 20, sellerCount: 2, ...FAST, faults: { down: true } });
    try {
      assert.equal(await tcpConnect(down.url), 'ECONNREFUSED');
      await down.faults.set({ down: false });
      assert.equal((await http(`${down.url}/healthz`)).status, 200);
    } finally {
      await down.close();
    }
  });
});

describe('worker pool (CRM_WORKERS)', () => {
  it('works on `workers` requests at once and queues the rest in order', async () => {
    const crm = await startCrmSim({ orderCount: 300, sellerCount: 3, latency: { baseMs: 150, jitterMs: 0 }, workers: 2 });
    try {
      const started = performance.now();
      const done: number[] = [];
      // Six requests, two workers, 150 ms each: three waves, at ~150, ~300 and ~450 ms.
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          const res = await http(`${crm.url}/crm/sellers`);
          assert.equal(res.status, 200);
          done.push(performance.now() - started);
        }),
      );
      done.sort((a, b) => a - b);
      const waves = done.map((ms) => Math.round(ms / 150));
      assert.deepEqual(waves, [1, 1, 2, 2, 3, 3], `finished at ${done.map((ms) => ms.toFixed(0)).join(', ')} ms`);
      // /healthz takes no worker.
      assert.equal((await http(`${crm.url}/healthz`)).status, 200);
    } finally {
      await crm.close();
    }
  });
});
