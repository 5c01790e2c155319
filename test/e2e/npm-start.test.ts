// The embedded default as a newcomer runs it: one process, real HTTP.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';

describe('npm start (gateway + simulators in one process)', () => {
  let proc: RunningProcess;
  let base: string;

  before(async () => {
    const [port, mes, crm, mesAdmin, crmAdmin] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    base = `http://127.0.0.1:${port}`;
    proc = await startProcess(
      'gateway/main.ts',
      { PORT: String(port), MES_PORT: String(mes), CRM_PORT: String(crm), MES_ADMIN_PORT: String(mesAdmin), CRM_ADMIN_PORT: String(crmAdmin), LOG_LEVEL: 'warn', JWT_SECRET: '', MES_URL: '', CRM_URL: '', GATEWAY_CONFIG: '' },
      /operator JWT:/,
    );
  });
  after(async () => {
    await proc?.stop('SIGKILL');
  });

  it('prints the demo credentials and the docs address', () => {
    assert.match(proc.stdout(), /demo-free-key/);
    assert.match(proc.stdout(), /demo-pro-key/);
    assert.match(proc.stdout(), /\/docs/);
  });

  it('the spec’s example order answers with the demo key (Try it out works)', async () => {
    const res = await fetch(`${base}/v1/orders/ord_jzsbc0p7cvze`, { headers: { 'X-API-Key': 'demo-pro-key' } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { id: string }).id, 'ord_jzsbc0p7cvze');
  });

  it('serves the docs portal', async () => {
    const res = await fetch(`${base}/docs/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /swagger/i);
  });

  it('logs are JSON lines with no API key in them', async () => {
    await fetch(`${base}/v1/orders/ord_zzzzzzzzzzzz`, { headers: { 'X-API-Key': 'demo-pro-key' } });
    assert.doesNotMatch(proc.stdout() + proc.stderr(), /demo-pro-key"|X-API-Key": ?"demo/);
  });

  it('SIGTERM drains an in-flight request (the slow MES dashboard), then exits 0', async () => {
    const token = /operator JWT:\s+(\S+)/.exec(proc.stdout())?.[1];
    assert.ok(token);
    const inFlight = fetch(`${base}/internal/v1/dashboard/orders?limit=3`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((r) => setTimeout(r, 300));
    proc.child.kill('SIGTERM');
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { items: unknown[] }).items.length, 3);
    assert.equal(await proc.exited, 0);
  });
});
