// The embedded default as a newcomer runs it: one process, real HTTP.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';

interface Spec {
  paths: Record<string, { post?: { requestBody: { content: Record<string, { examples: Record<string, { value: unknown }> }> } } }>;
}

describe('npm start (gateway + simulators in one process)', () => {
  let proc: RunningProcess;
  let base: string;

  before(async () => {
    const [port, mes, crm, mesAdmin, crmAdmin] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    base = `http://127.0.0.1:${port}`;
    proc = await startProcess(
      'entries/embedded.ts',
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

  it('prints the console with the demo token in the fragment, and the portal with the demo key', () => {
    const token = /operator JWT:\s+(\S+)/.exec(proc.stdout())?.[1];
    assert.ok(token);
    assert.ok(proc.stdout().includes(`${base}/internal/console#token=${token}`), proc.stdout());
    assert.ok(proc.stdout().includes(`${base}/portal#key=demo-pro-key`));
  });

  it('the spec’s example order answers with the demo key (Try it out works)', async () => {
    const res = await fetch(`${base}/v1/orders/ord_jzsbc0p7cvze`, { headers: { 'X-API-Key': 'demo-pro-key' } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { id: string }).id, 'ord_jzsbc0p7cvze');
  });

  it('the spec’s write examples work with demo-pro-key (Try it out): quote of the example upload (known price), its status, orders from quote and from model', async () => {
    const spec = parse(readFileSync('openapi/seller-api.yaml', 'utf8')) as Spec;
    const example = (path: string, name: string) => spec.paths[path]!.post!.requestBody.content['application/json']!.examples[name]!.value;
    const headers = { 'X-API-Key': 'demo-pro-key', 'content-type': 'application/json' };
    const quote = await fetch(`${base}/v1/quotes`, { method: 'POST', headers, body: JSON.stringify(example('/v1/quotes', 'signet')) });
    assert.equal(quote.status, 200, 'a known price answers at once');
    assert.equal(((await quote.json()) as { status: string }).status, 'ready');
    const orderExample = example('/v1/orders', 'fromQuote') as { quote_id: string };
    const status = await fetch(`${base}/v1/quotes/${orderExample.quote_id}`, { headers });
    assert.equal(status.status, 200);
    assert.equal(((await status.json()) as { status: string }).status, 'ready');
    for (const name of ['fromQuote', 'fromModel']) {
      const order = await fetch(`${base}/v1/orders`, { method: 'POST', headers: { ...headers, 'Idempotency-Key': `try-it-${name}-${Date.now()}` }, body: JSON.stringify(example('/v1/orders', name)) });
      assert.equal(order.status, 202, `${name}: ${await order.clone().text()}`);
    }
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

  it('an order placed through the gateway runs the saga in-process: CRM, MES pricing, approval, manufacturing', async () => {
    const stl = Buffer.alloc(84 + 50 * 100);
    stl.writeUInt32LE(100, 80);
    const model = await fetch(`${base}/v1/models`, { method: 'POST', headers: { 'X-API-Key': 'demo-pro-key', 'content-type': 'application/octet-stream' }, body: stl });
    assert.equal(model.status, 201);
    const modelId = ((await model.json()) as { id: string }).id;
    const placed = await fetch(`${base}/v1/orders`, {
      method: 'POST',
      headers: { 'X-API-Key': 'demo-pro-key', 'Idempotency-Key': `e2e-${Date.now()}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model_id: modelId,
        parameters: { material: 'silver_925', size_mm: 20, finish: 'matte' },
        customer: { name: 'E2E Test', email: 'e2e@example.com' },
        shipping: { name: 'E2E Test', line1: '1 Test Street', city: 'Paris', postal_code: '75001', country: 'FR' },
      }),
    });
    assert.equal(placed.status, 202);
    const location = placed.headers.get('location') ?? '';
    const reached = new Set(['MANUFACTURING_APPROVED', 'MANUFACTURING_STARTED', 'MANUFACTURING_COMPLETED', 'PACKAGING', 'SHIPPED']);
    let status = '';
    for (let i = 0; i < 100 && !reached.has(status); i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = ((await (await fetch(`${base}${location}`, { headers: { 'X-API-Key': 'demo-pro-key' } })).json()) as { status: string }).status;
    }
    assert.ok(reached.has(status), `order stuck at ${status}`);
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
