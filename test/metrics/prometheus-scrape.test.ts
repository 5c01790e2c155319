// A real Prometheus (Debian's package; .ci/run installs it) scrapes a
// gateway and reads back a nonzero request counter, with the project's alert
// rules loaded: the exposition format (OpenMetrics with exemplars, which
// Prometheus asks for) and the rules work in the real thing, not only in
// promtool's parsers.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/processes.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a real Prometheus scrapes the gateway', () => {
  let stack: Stack;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let dir = '';
  let output = '';

  before(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), 'facet-prom-'));
    copyFileSync('deploy/prometheus/alerts.yml', join(dir, 'alerts.yml'));
    const target = new URL(stack.url).host;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'rule_files: [alerts.yml]', 'scrape_configs:', '  - job_name: facet-gateway', '    static_configs:', `      - targets: ['${target}']`, ''].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    prometheus.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  });

  after(async () => {
    prometheus?.kill('SIGTERM');
    await new Promise((resolve) => (prometheus?.exitCode !== null ? resolve(undefined) : prometheus.once('exit', resolve)));
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function query(promql: string): Promise<{ value: [number, string]; metric: Record<string, string> }[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: { value: [number, string]; metric: Record<string, string> }[] } };
    assert.equal(body.status, 'success');
    return body.data.result;
  }

  it('reads back a nonzero request counter, with the route and plan labels', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 5; i++) await (await fetch(`${stack.url}/v1/materials`, { headers: { 'X-API-Key': 'demo-pro-key' } })).arrayBuffer();
    const deadline = Date.now() + 45_000;
    let series: Awaited<ReturnType<typeof query>> = [];
    while (Date.now() < deadline) {
      series = await query('sum by (route, plan, status) (facet_http_request_duration_seconds_count{route="/v1/materials"})').catch(() => []);
      if (series.length > 0) break;
      await sleep(500);
    }
    assert.ok(series.length > 0, `Prometheus never saw the counter; its log:\n${output}`);
    assert.deepEqual(series[0]!.metric, { route: '/v1/materials', plan: 'standard', status: '200' });
    assert.ok(Number(series[0]!.value[1]) >= 5, `count ${series[0]!.value[1]}`);
    const up = await query('up{job="facet-gateway"}');
    assert.equal(up[0]?.value[1], '1', 'the scrape succeeds');
  });

  it('loads every alert rule and evaluates it without errors', { timeout: 30_000 }, async () => {
    let rules: { health: string; name: string; lastError?: string }[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { rules: { health: string; name: string; lastError?: string }[] }[] } };
      rules = body.data.groups.flatMap((g) => g.rules);
      if (rules.length > 0 && rules.every((r) => r.health === 'ok')) break;
      await sleep(500);
    }
    assert.ok(rules.length >= 5, `rules loaded: ${rules.length}`);
    const bad = rules.filter((r) => r.health !== 'ok');
    assert.deepEqual(bad, [], 'every rule evaluates');
  });
});
