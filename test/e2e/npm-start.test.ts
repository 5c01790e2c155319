// The embedded default as a newcomer runs it: one process, real HTTP.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { freePort, startProcess, type RunningProcess } from '../helpers/processes.ts';
import { deref, isObject, specs, type Json, type SpecName } from '../security/contract.ts';

/** One request per example of an operation: its path parameters' examples, its required query parameters', each body example (or none). */
interface ExampleRequest {
  label: string;
  spec: SpecName;
  operationId: string;
  method: string;
  path: string;
  body: unknown;
  streaming: boolean;
  secured: boolean;
}

function exampleOf(document: Json, parameter: Json): string | undefined {
  if (parameter.example !== undefined) return String(parameter.example);
  const first = Object.values((parameter.examples as Json | undefined) ?? {})[0];
  if (first !== undefined) return String(deref(document, first).value);
  const schema = deref(document, parameter.schema ?? {});
  if (schema.example !== undefined) return String(schema.example);
  if (Array.isArray(schema.examples)) return String(schema.examples[0]);
  return undefined;
}

function exampleRequests(): ExampleRequest[] {
  const out: ExampleRequest[] = [];
  for (const spec of ['seller', 'internal'] as const) {
    const document = specs[spec];
    for (const [template, item] of Object.entries(document.paths as Json)) {
      for (const [method, raw] of Object.entries(deref(document, item))) {
        if (!isObject(raw) || typeof raw.operationId !== 'string') continue;
        const parameters = ((raw.parameters as unknown[]) ?? []).map((p) => deref(document, p));
        let path = template;
        const query = new URLSearchParams();
        for (const parameter of parameters) {
          const value = exampleOf(document, parameter);
          if (parameter.in === 'path') {
            assert.ok(value !== undefined, `${raw.operationId}: path parameter ${String(parameter.name)} has no example`);
            path = path.replace(`{${String(parameter.name)}}`, encodeURIComponent(value));
          } else if (parameter.in === 'query' && parameter.required === true) {
            assert.ok(value !== undefined, `${raw.operationId}: required query parameter ${String(parameter.name)} has no example`);
            query.append(String(parameter.name), value);
          }
        }
        if (query.size > 0) path += `?${query}`;
        const content = (deref(document, raw.requestBody ?? {}).content as Json | undefined) ?? {};
        const json = content['application/json'] ? deref(document, content['application/json']) : undefined;
        const bodies = json ? Object.entries((json.examples as Json | undefined) ?? {}).map(([name, ex]) => [name, deref(document, ex).value] as const) : [];
        const responses = Object.values((raw.responses as Json | undefined) ?? {}).map((r) => deref(document, r));
        const streaming = responses.some((r) => isObject(r.content) && 'text/event-stream' in r.content);
        const secured = !(Array.isArray(raw.security) && raw.security.length === 0);
        const base = { spec, operationId: raw.operationId, method: method.toUpperCase(), path, streaming, secured };
        if (bodies.length === 0) out.push({ ...base, label: raw.operationId, body: undefined });
        for (const [name, body] of bodies) out.push({ ...base, label: `${raw.operationId} (${name})`, body });
      }
    }
  }
  // A deletion last: the other examples use what it deletes.
  return out.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
}

/** A binary STL of `triangles` facets (header, count, 50 bytes each). */
function binaryStl(triangles = 100): Buffer {
  const stl = Buffer.alloc(84 + 50 * triangles);
  stl.writeUInt32LE(triangles, 80);
  return stl;
}

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
      { PORT: String(port), MES_PORT: String(mes), CRM_PORT: String(crm), MES_ADMIN_PORT: String(mesAdmin), CRM_ADMIN_PORT: String(crmAdmin), WEBHOOKS_DEMO_HOSTS: '', LOG_LEVEL: 'warn', JWT_SECRET: '', MES_URL: '', CRM_URL: '', GATEWAY_CONFIG: '' },
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

  it('every operation\'s example, of both specs, answers with the demo credentials: no 404, 422 or 5xx (webhook examples included)', async () => {
    const token = /operator JWT:\s+(\S+)/.exec(proc.stdout())?.[1];
    assert.ok(token);
    const requests = exampleRequests();
    for (const id of ['createWebhook', 'deleteWebhook', 'rotateWebhookSecret', 'listWebhookDeliveries', 'replayWebhookDelivery', 'takeOrder', 'uploadModel', 'createOrder']) {
      assert.ok(requests.some((r) => r.operationId === id), `an example request for ${id}`);
    }
    const failures: string[] = [];
    let replayChecked = false;
    for (const example of requests) {
      if (example.method === 'DELETE' && !replayChecked) {
        // Before the example subscription is deleted: the replayed example delivery reached the demo receiver (204).
        replayChecked = true;
        const deadline = Date.now() + 30_000;
        let attempts: { status_code: number | null }[] = [];
        while (!attempts.some((a) => a.status_code === 204) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          const list = (await (await fetch(`${base}/v1/webhooks/wh_8k2m4q6s1v3x/deliveries`, { headers: { 'X-API-Key': 'demo-pro-key' } })).json()) as { items: { id: string; attempts: { status_code: number | null }[] }[] };
          attempts = list.items.find((d) => d.id === 'msg_2Xb8kQ1yP0cR5sT7uV9wA3zD4eF')?.attempts ?? [];
        }
        assert.ok(attempts.some((a) => a.status_code === 204), `the replay reached the demo receiver: ${JSON.stringify(attempts)}`);
      }
      const headers: Record<string, string> = example.spec === 'internal' ? { authorization: `Bearer ${token}` } : { 'X-API-Key': 'demo-pro-key' };
      if (!example.secured) delete headers.authorization;
      if (example.operationId === 'createOrder') headers['Idempotency-Key'] = `example-${example.label}-${Date.now()}`;
      let body: string | Buffer | undefined;
      if (example.operationId === 'uploadModel') {
        headers['content-type'] = 'application/octet-stream';
        body = binaryStl();
      } else if (example.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(example.body);
      }
      const abort = new AbortController();
      const res = await fetch(`${base}${example.path}`, { method: example.method, headers, body, signal: abort.signal });
      const text = example.streaming ? '' : await res.text();
      abort.abort();
      if (res.status === 404 || res.status === 422 || res.status >= 500) failures.push(`${example.label}: ${example.method} ${example.path} → ${res.status} ${text.slice(0, 200)}`);
    }
    assert.deepEqual(failures, []);
  });

  it('the webhook example URL is accepted offline; other hosts are still resolved and checked', async () => {
    const headers = { 'X-API-Key': 'demo-free-key', 'content-type': 'application/json' };
    const created = await fetch(`${base}/v1/webhooks`, { method: 'POST', headers, body: JSON.stringify({ url: 'https://hooks.lumen-jewels.example/facet' }) });
    assert.equal(created.status, 201, await created.clone().text());
    const id = ((await created.json()) as { id: string }).id;
    const deleted = await fetch(`${base}/v1/webhooks/${id}`, { method: 'DELETE', headers: { 'X-API-Key': 'demo-free-key' } });
    assert.equal(deleted.status, 204);
    // Another host is still checked for real: a name that resolves nowhere is refused.
    const refused = await fetch(`${base}/v1/webhooks`, { method: 'POST', headers, body: JSON.stringify({ url: 'https://hooks.not-the-demo.example/facet' }) });
    assert.equal(refused.status, 422);
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
