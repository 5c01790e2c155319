// Prometheus config, alert rules and their unit tests through promtool; the
// Grafana dashboard's queries parsed by promtool too; every facet_* metric
// they use exists in the code (or is one agreed with the engineers adding it).

import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CONTRACTED_METRICS, ROOT, hasTool, knownMetrics, metricsInCode, read, readYaml, run, tempDir, unknownMetrics } from './helpers.ts';

const PROM = 'deploy/prometheus';
const DASHBOARD = 'deploy/grafana/dashboards/facet-overview.json';

interface Target {
  expr?: string;
  datasource?: { uid?: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

function dashboardExprs(): { title: string; expr: string; uid: string | undefined }[] {
  const dashboard = JSON.parse(read(DASHBOARD)) as { panels: Panel[] };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr ?? '', uid: t.datasource?.uid ?? p.datasource?.uid })));
}

/** Grafana's interval variables, replaced so promtool can parse the expression. */
function plainPromQL(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '1h');
}

function alertExprs(): { alert: string; expr: string }[] {
  const rules = readYaml(`${PROM}/alerts.yml`) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules);
}

function promtool(...args: string[]): { status: number | null; output: string } {
  assert.ok(hasTool('promtool'), 'promtool is not installed (apt-get install prometheus; .ci/run does it)');
  return run('promtool', args);
}

describe('deploy/prometheus and the Grafana dashboard', () => {
  it('promtool: the config and its rule file are valid', () => {
    const result = promtool('check', 'config', join(ROOT, PROM, 'prometheus.yml'));
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /SUCCESS: 1 rule files found/);
  });

  it('promtool: every alert fires and stays quiet in its unit tests', () => {
    const result = promtool('test', 'rules', join(ROOT, PROM, 'alerts.test.yml'));
    assert.equal(result.status, 0, result.output);
    const tested = new Set([...read(`${PROM}/alerts.test.yml`).matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    for (const { alert } of alertExprs()) assert.ok(tested.has(alert), `${alert} has no unit test`);
    // Each alert is expected both firing (exp_alerts with labels) and quiet (exp_alerts: []).
    const text = read(`${PROM}/alerts.test.yml`);
    for (const { alert } of alertExprs()) {
      const blocks = text.split(/- eval_time:/).filter((b) => b.includes(`alertname: ${alert}\n`));
      assert.ok(blocks.some((b) => b.includes('exp_alerts: []')), `${alert}: no quiet case`);
      assert.ok(blocks.some((b) => b.includes('exp_labels')), `${alert}: no firing case`);
    }
  });

  it('promtool: a broken alert fails its unit test, a broken expression fails the rule check', () => {
    const dir = tempDir('prom');
    copyFileSync(join(ROOT, PROM, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
    writeFileSync(join(dir, 'alerts.yml'), read(`${PROM}/alerts.yml`).replace('facet_upstream_breaker_state) == 2', 'facet_upstream_breaker_state) >= 1'));
    const tested = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
    assert.notEqual(tested.status, 0, tested.output);
    assert.match(tested.output, /FacetUpstreamBreakerOpen/);
    writeFileSync(join(dir, 'alerts.yml'), read(`${PROM}/alerts.yml`).replace('sum by (queue) (increase(', 'sum by (queue) (increase(('));
    const checked = promtool('check', 'rules', join(dir, 'alerts.yml'));
    assert.notEqual(checked.status, 0, checked.output);
  });

  it('the alerts use only metrics that exist', () => {
    const known = knownMetrics();
    for (const { alert, expr } of alertExprs()) assert.deepEqual(unknownMetrics(expr, known), [], alert);
  });

  it('the metric list knows the code: the registered names are found', () => {
    const inCode = metricsInCode();
    for (const name of ['facet_quota_decisions_total', 'facet_upstream_breaker_state', 'facet_cache_requests_total']) assert.ok(inCode.has(name), name);
    // A contracted name found in the code is fine; a misspelt one in a query is not.
    assert.deepEqual(unknownMetrics('rate(facet_http_request_duration_seconds_bucket[5m])', knownMetrics()), []);
    assert.deepEqual(unknownMetrics('rate(facet_http_requests_total[5m])', knownMetrics()), ['facet_http_requests_total']);
    assert.ok(CONTRACTED_METRICS.length > 0);
  });

  it('every dashboard query parses (promtool) and uses only metrics that exist', () => {
    const exprs = dashboardExprs();
    assert.ok(exprs.length >= 20, `${exprs.length} queries`);
    const known = knownMetrics();
    for (const { title, expr, uid } of exprs) {
      assert.deepEqual(unknownMetrics(expr, known), [], title);
      assert.equal(uid, 'prometheus', `${title}: data source`);
    }
    // Each query as a recording rule: promtool check rules parses its PromQL.
    const dir = tempDir('dash');
    const rules = { groups: [{ name: 'dashboard', rules: exprs.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: plainPromQL(expr) })) }] };
    writeFileSync(join(dir, 'dashboard.rules.yml'), stringify(rules));
    const result = promtool('check', 'rules', join(dir, 'dashboard.rules.yml'));
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));
    // And the same check refuses a query that does not parse.
    writeFileSync(join(dir, 'broken.rules.yml'), stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum(rate(facet_cache_requests_total[5m])' }] }] }));
    assert.notEqual(promtool('check', 'rules', join(dir, 'broken.rules.yml')).status, 0);
  });

  it('Grafana provisioning names the data sources the dashboard uses', () => {
    const sources = readYaml('deploy/grafana/provisioning/datasources/datasources.yml') as { datasources: { uid: string; type: string; url: string }[] };
    const byUid = new Map(sources.datasources.map((d) => [d.uid, d]));
    assert.equal(byUid.get('prometheus')?.type, 'prometheus');
    assert.equal(byUid.get('prometheus')?.url, 'http://prometheus:9090');
    assert.equal(byUid.get('jaeger')?.type, 'jaeger');
    assert.equal(byUid.get('jaeger')?.url, 'http://jaeger:16686');
    const providers = readYaml('deploy/grafana/provisioning/dashboards/dashboards.yml') as { providers: { options: { path: string } }[] };
    assert.equal(providers.providers[0]?.options.path, '/var/lib/grafana/dashboards');
    const dashboard = JSON.parse(read(DASHBOARD)) as { uid: string; panels: Panel[] };
    assert.equal(dashboard.uid, 'facet-overview');
  });

  it('Prometheus scrapes the gateways and the adapters on their /metrics', () => {
    const config = readYaml(`${PROM}/prometheus.yml`) as { scrape_configs: { job_name: string; metrics_path?: string; dns_sd_configs?: { names: string[]; port: number }[] }[] };
    const jobs = new Map(config.scrape_configs.map((j) => [j.job_name, j]));
    assert.equal(jobs.get('facet-gateway')?.metrics_path, '/metrics');
    assert.deepEqual(jobs.get('facet-adapters')?.dns_sd_configs?.[0], { names: ['adapters'], type: 'A', port: 8094, refresh_interval: '30s' });
    // The alerts' `up` selectors name these jobs.
    for (const { expr } of alertExprs()) for (const m of expr.matchAll(/job="([\w-]+)"/g)) assert.ok(jobs.has(m[1] as string), m[1]);
  });
});
