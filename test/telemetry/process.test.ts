// `npm start` as run (node --import ./platform/telemetry/register.ts
// entries/embedded.ts) against a fake OTLP collector: with no endpoint or with
// OTEL_SDK_DISABLED nothing is sent and nothing complains; with an endpoint
// the spans arrive, at the latest when SIGTERM's drain flushes them, and
// the process still exits 0.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { decideTracing, samplerSettings, serviceNameFor } from '../../platform/telemetry/config.ts';
import { freePort } from '../helpers/processes.ts';

interface Received {
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

class FakeCollector {
  readonly received: Received[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

interface Run {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  problem: { trace_id?: string; status: number };
}

/** Starts npm start's entry, sends one request with a traceparent, then SIGTERM; resolves with what happened. */
async function runGateway(env: Record<string, string>, traceId: string): Promise<Run> {
  const [port, mes, crm, mesAdmin, crmAdmin] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const child = spawn(process.execPath, ['--import', './platform/telemetry/register.ts', 'entries/embedded.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      MES_PORT: String(mes),
      CRM_PORT: String(crm),
      MES_ADMIN_PORT: String(mesAdmin),
      CRM_ADMIN_PORT: String(crmAdmin),
      JWT_SECRET: '',
      MES_URL: '',
      CRM_URL: '',
      GATEWAY_CONFIG: '',
      AMQP_URL: '',
      REDIS_URL: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      OTEL_SDK_DISABLED: '',
      OTEL_SERVICE_NAME: '',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 300 && !/operator JWT:/.test(stdout); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(stdout, /operator JWT:/, `not ready\n${stdout}\n${stderr}`);
  const res = await fetch(`http://127.0.0.1:${port}/v1/orders/ord_zzzzzzzzzzzz`, { headers: { 'X-API-Key': 'demo-pro-key', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
  const problem = (await res.json()) as Run['problem'];
  child.kill('SIGTERM');
  const exitCode = await exited;
  return { exitCode, stdout, stderr, problem };
}

function requestLine(stdout: string): Record<string, unknown> | undefined {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'request' && l.route === '/v1/orders/:id');
}

describe('tracing on and off in a real process (npm start)', () => {
  const collector = new FakeCollector();
  before(() => collector.start());
  after(() => collector.close());

  it('samples parent-based with a ratio by default (10%, or OTEL_TRACES_SAMPLER_ARG); a sampler set in the environment wins', () => {
    assert.deepEqual(samplerSettings({}), { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' });
    assert.deepEqual(samplerSettings({ OTEL_TRACES_SAMPLER: '', OTEL_TRACES_SAMPLER_ARG: '0.25' }), { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    assert.deepEqual(samplerSettings({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }), { OTEL_TRACES_SAMPLER: 'parentbased_always_on' });
  });

  it('decides from the environment: endpoint set and not disabled', () => {
    assert.deepEqual(decideTracing({}), { enabled: false, reason: 'no-endpoint' });
    assert.equal(decideTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }).enabled, true);
    assert.equal(decideTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x:4318/v1/traces' }).enabled, true);
    assert.equal(decideTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318', OTEL_SDK_DISABLED: 'TRUE' }).reason, 'sdk-disabled');
    assert.equal(decideTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318', OTEL_TRACES_EXPORTER: 'none' }).reason, 'exporter-none');
    assert.equal(serviceNameFor('/repo/adapters/main.ts', '/repo'), 'facet-adapters');
    assert.equal(serviceNameFor('/repo/sim/mes/main.ts', '/repo'), 'facet-mes-sim');
    assert.equal(serviceNameFor('/repo/entries/gateway.ts', '/repo'), 'facet-gateway');
  });

  it('no endpoint: nothing exported, nothing complains, exit 0; the caller’s trace id still reaches the problem and the log', async () => {
    const traceId = randomBytes(16).toString('hex');
    const run = await runGateway({}, traceId);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.problem.status, 404);
    assert.equal(run.problem.trace_id, traceId);
    assert.equal(requestLine(run.stdout)?.trace_id, traceId);
    assert.doesNotMatch(run.stderr + run.stdout, /OTLP|opentelemetry|ECONNREFUSED|"level":"error"/i);
    assert.equal(collector.received.length, 0);
  });

  it('OTEL_SDK_DISABLED=true: an endpoint is set, still nothing is sent', async () => {
    const run = await runGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SDK_DISABLED: 'true' }, randomBytes(16).toString('hex'));
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(collector.received.length, 0);
  });

  it('endpoint set: spans go out as OTLP http/protobuf, flushed by the SIGTERM drain, exit 0', async () => {
    const traceId = randomBytes(16).toString('hex');
    const run = await runGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }, traceId);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.problem.trace_id, traceId);
    const line = requestLine(run.stdout);
    assert.equal(line?.trace_id, traceId);
    assert.match(String(line?.span_id), /^[0-9a-f]{16}$/);
    const traces = collector.received.filter((r) => r.path === '/v1/traces');
    assert.ok(traces.length >= 1, `nothing exported: ${JSON.stringify(collector.received.map((r) => r.path))}`);
    assert.equal(traces[0]?.contentType, 'application/x-protobuf');
    const all = Buffer.concat(traces.map((t) => t.body));
    assert.ok(all.includes(Buffer.from('facet-gateway')), 'service.name facet-gateway');
    assert.ok(all.includes(Buffer.from(traceId, 'hex')), 'the caller’s trace continued');
    assert.deepEqual(collector.received.filter((r) => r.path !== '/v1/traces'), [], 'traces only: no metrics or logs exporters');
  });
});
