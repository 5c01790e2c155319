// handleSummary: a short text summary on stdout and a JSON file.
//
// The run's verdict is k6's: any failed threshold makes `k6 run` exit 99.
// Some criteria compare two measurements of the same run (the victim's p99
// against its own solo baseline, admitted p99 against the unloaded one);
// k6 thresholds can only compare with constants, so these "derived checks"
// are computed here. They are printed and written to the JSON ("ok" is true
// only when every threshold AND every derived check passed), so CI can gate
// on them with `jq -e .ok summary-<script>.json`; each script also says how
// to turn its derived check into a real threshold (a baseline passed with -e).

import { BASE_URL, summaryJsonPath } from './config.ts';
import { REPORT_ONLY } from './thresholds.ts';

export interface MetricSummary {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains: 'default' | 'time' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

/** The object k6 passes to handleSummary (the same shape in k6 0.30 to 1.x). */
export interface CheckSummary {
  name: string;
  passes: number;
  fails: number;
}

export interface GroupSummary {
  name?: string;
  checks?: CheckSummary[];
  groups?: GroupSummary[];
}

export interface SummaryData {
  metrics: Record<string, MetricSummary>;
  root_group?: GroupSummary;
  state?: { testRunDurationMs?: number; isStdOutTTY?: boolean };
  options?: { summaryTrendStats?: string[] };
  setup_data?: unknown;
}

export interface DerivedCheck {
  name: string;
  /** The measured value, null when the run has no data for it. */
  value: number | null;
  /** e.g. "<= 1.20" */
  limit: string;
  /** null: not evaluated (no data, or not applicable to this run). */
  ok: boolean | null;
  detail?: string;
}

export interface ThresholdResult {
  metric: string;
  expression: string;
  ok: boolean;
  stat: string;
  value: number | null;
}

/** The value a threshold expression is about: "p(95)<300" → values["p(95)"]. */
export function statOf(expression: string): string {
  const m = /^\s*(p\(\d+(?:\.\d+)?\)|avg|min|med|max|rate|count|value)\s*[<>=!]/.exec(expression);
  return m ? (m[1] as string) : '';
}

export function metricValue(data: SummaryData, metric: string, stat: string): number | null {
  const m = data.metrics[metric];
  if (!m) return null;
  const v = m.values[stat];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Number of samples behind a metric (trend count, rate passes+fails, counter count). */
export function sampleCount(data: SummaryData, metric: string): number {
  const m = data.metrics[metric];
  if (!m) return 0;
  if (m.type === 'rate') return (m.values.passes ?? 0) + (m.values.fails ?? 0);
  return m.values.count ?? 0;
}

export function thresholdResults(data: SummaryData): ThresholdResult[] {
  const out: ThresholdResult[] = [];
  const names = Object.keys(data.metrics).sort();
  for (const metric of names) {
    const th = data.metrics[metric]?.thresholds ?? {};
    for (const expression of Object.keys(th)) {
      const stat = statOf(expression);
      out.push({ metric, expression, ok: th[expression]?.ok === true, stat, value: stat ? metricValue(data, metric, stat) : null });
    }
  }
  return out;
}

function fmtNumber(n: number, digits = 1): string {
  const fixed = n.toFixed(digits);
  const [int, frac] = fixed.split('.');
  const grouped = (int ?? '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac !== undefined ? `${grouped}.${frac}` : grouped;
}

export function fmtValue(data: SummaryData, metric: string, stat: string, value: number | null): string {
  if (value === null) return 'no data';
  const m = data.metrics[metric];
  if (m && sampleCount(data, metric) === 0 && (m.type === 'trend' || m.type === 'rate')) return 'no samples';
  if (stat === 'rate' && m?.type === 'rate') return `${fmtNumber(value * 100, 2)}%`;
  if (m?.contains === 'time') return `${fmtNumber(value, value < 10 ? 2 : 1)}ms`;
  if (stat === 'count' || stat === 'value') return fmtNumber(value, 0);
  return fmtNumber(value, 3);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function padStart(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

function pct(data: SummaryData, metric: string): string {
  const v = metricValue(data, metric, 'rate');
  return v === null || sampleCount(data, metric) === 0 ? '—' : `${fmtNumber(v * 100, 2)}%`;
}

function durationText(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s % 60}s`;
}

/** Every check of the run, across groups, with its passes and fails. */
export function checkResults(group: GroupSummary | undefined): CheckSummary[] {
  if (!group) return [];
  const out: CheckSummary[] = (group.checks ?? []).map((c) => ({ name: c.name, passes: c.passes, fails: c.fails }));
  for (const g of group.groups ?? []) out.push(...checkResults(g));
  return out;
}

export interface SummaryReport {
  script: string;
  base_url: string;
  ok: boolean;
  thresholds_ok: boolean;
  derived_ok: boolean;
  duration_s: number;
  requests: number;
  thresholds: ThresholdResult[];
  derived: DerivedCheck[];
  answers: Record<string, string>;
  problems: Record<string, number>;
  latency_ms: Record<string, Record<string, number>>;
  checks: CheckSummary[];
  notes: string[];
  metrics: Record<string, MetricSummary>;
}

export function buildReport(script: string, data: SummaryData, derived: DerivedCheck[], notes: string[]): SummaryReport {
  const thresholds = thresholdResults(data);
  const gating = thresholds.filter((t) => REPORT_ONLY.indexOf(t.expression.replace(/\s+/g, '')) === -1);
  const problems: Record<string, number> = {};
  const latency: Record<string, Record<string, number>> = {};
  for (const name of Object.keys(data.metrics).sort()) {
    const code = /^facet_problems\{code:([A-Z_0-9]+)\}$/.exec(name);
    if (code) {
      const count = metricValue(data, name, 'count') ?? 0;
      if (count > 0) problems[code[1] as string] = count;
    }
    const m = data.metrics[name];
    if (m && m.type === 'trend' && m.contains === 'time' && (m.values.count ?? 1) !== 0) {
      const row: Record<string, number> = {};
      for (const stat of ['count', 'med', 'p(95)', 'p(99)', 'max']) {
        const v = m.values[stat];
        if (typeof v === 'number') row[stat] = Math.round(v * 100) / 100;
      }
      latency[name] = row;
    }
  }
  const thresholdsOk = gating.every((t) => t.ok);
  const derivedOk = derived.every((d) => d.ok !== false);
  return {
    script,
    base_url: BASE_URL,
    ok: thresholdsOk && derivedOk,
    thresholds_ok: thresholdsOk,
    derived_ok: derivedOk,
    duration_s: Math.round((data.state?.testRunDurationMs ?? 0) / 100) / 10,
    requests: metricValue(data, 'http_reqs', 'count') ?? 0,
    thresholds: gating,
    derived,
    answers: {
      ok: pct(data, 'facet_ok'),
      '429': pct(data, 'facet_429'),
      '503': pct(data, 'facet_503'),
      shed: pct(data, 'facet_shed'),
      '5xx (not 503)': pct(data, 'facet_5xx'),
      'no answer': pct(data, 'facet_transport_error'),
      stale: pct(data, 'facet_stale'),
    },
    problems,
    latency_ms: latency,
    checks: checkResults(data.root_group),
    notes,
    metrics: data.metrics,
  };
}

export function renderText(report: SummaryReport, data: SummaryData, jsonPath: string): string {
  const lines: string[] = [];
  const verdict = report.ok ? 'PASS' : report.thresholds_ok ? 'FAIL (derived checks)' : 'FAIL';
  const rps = report.duration_s > 0 ? report.requests / report.duration_s : 0;
  lines.push(`facet k6 · ${report.script} · ${report.base_url} · ${durationText(report.duration_s * 1000)} · ${verdict}`);
  lines.push(`requests ${fmtNumber(report.requests, 0)} (${fmtNumber(rps, 1)}/s)`);
  lines.push(
    `answers  ok ${report.answers.ok} · 429 ${report.answers['429']} · 503 ${report.answers['503']} (shed ${report.answers.shed}) · ` +
      `5xx ${report.answers['5xx (not 503)']} · no answer ${report.answers['no answer']} · stale ${report.answers.stale}`,
  );
  const codes = Object.keys(report.problems);
  if (codes.length > 0) lines.push(`problems ${codes.map((c) => `${c} ${fmtNumber(report.problems[c] ?? 0, 0)}`).join(' · ')}`);

  lines.push('', `thresholds (k6 exits 99 if one fails): ${report.thresholds.filter((t) => t.ok).length}/${report.thresholds.length} passed`);
  const width = Math.min(64, Math.max(20, ...report.thresholds.map((t) => t.metric.length)));
  for (const t of report.thresholds) {
    lines.push(`  ${t.ok ? '✓' : '✗'} ${pad(t.metric, width)}  ${pad(t.expression, 16)}  ${t.stat ? `${t.stat}=${fmtValue(data, t.metric, t.stat, t.value)}` : ''}`);
  }
  const failing = report.checks.filter((c) => c.fails > 0);
  if (failing.length > 0) {
    lines.push('', 'checks that failed');
    for (const c of failing) lines.push(`  ✗ ${c.name}: ${fmtNumber(c.fails, 0)} of ${fmtNumber(c.passes + c.fails, 0)}`);
  }
  if (report.derived.length > 0) {
    lines.push('', 'derived checks (not k6 thresholds: gate CI with `jq -e .ok` on the JSON)');
    for (const d of report.derived) {
      const mark = d.ok === null ? '·' : d.ok ? '✓' : '✗';
      const value = d.value === null ? 'no data' : fmtNumber(d.value, 3);
      lines.push(`  ${mark} ${d.name} ${d.limit}: ${value}${d.detail ? `  (${d.detail})` : ''}`);
    }
  }
  const latencyRows = Object.keys(report.latency_ms).filter((k) => k.indexOf('{') !== -1 || k === 'http_req_duration');
  if (latencyRows.length > 0) {
    lines.push('', `${pad('latency (ms)', 66)}${['count', 'med', 'p95', 'p99', 'max'].map((h) => padStart(h, 8)).join(' ')}`);
    for (const name of latencyRows) {
      const r = report.latency_ms[name] ?? {};
      if (!r.count) continue;
      const cells = ['count', 'med', 'p(95)', 'p(99)', 'max'].map((s) => padStart(r[s] === undefined ? '' : fmtNumber(r[s] ?? 0, s === 'count' ? 0 : 1), 8));
      lines.push(`  ${pad(name, 64)}${cells.join(' ')}`);
    }
  }
  for (const note of report.notes) lines.push('', `note: ${note}`);
  if (jsonPath !== 'off') lines.push('', `JSON summary: ${jsonPath}`);
  return `${lines.join('\n')}\n`;
}

export type Deriver = (data: SummaryData) => DerivedCheck[];

/** The handleSummary a script exports. */
export function summaryHandler(script: string, derive?: Deriver, notes: string[] = []): (data: SummaryData) => Record<string, string> {
  return (data: SummaryData) => {
    const derived = derive ? derive(data) : [];
    const setupNotes = (data.setup_data as { notes?: unknown } | null | undefined)?.notes;
    const allNotes = notes.concat(Array.isArray(setupNotes) ? setupNotes.filter((n): n is string => typeof n === 'string') : []);
    const report = buildReport(script, data, derived, allNotes);
    const jsonPath = summaryJsonPath(script);
    const out: Record<string, string> = { stdout: renderText(report, data, jsonPath) };
    if (jsonPath !== 'off') out[jsonPath] = JSON.stringify(report, null, 2);
    return out;
  };
}

/** A derived check: ratio a/b against a ceiling. */
export function ratioCheck(name: string, numerator: number | null, denominator: number | null, max: number, detail = ''): DerivedCheck {
  if (numerator === null || denominator === null || denominator <= 0) return { name, value: null, limit: `<= ${max}`, ok: null, detail: detail || 'no data' };
  const value = numerator / denominator;
  return { name, value, limit: `<= ${max}`, ok: value <= max, detail };
}
