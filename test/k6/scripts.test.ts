// The k6 suite (loadtests/k6/) without k6: no k6 binary runs here, so the
// scripts are loaded in Node with stand-ins for the k6 modules
// (test/k6/stubs/) and checked for what k6 itself would reject or silently
// get wrong:
//
// - every script exports options whose scenarios are all open-model
//   (constant- or ramping-arrival-rate) and run an exported function, and
//   whose thresholds parse as k6 thresholds, name metrics that exist, use
//   statistics of the right metric type, and filter on tags the suite sets
//   (a typo in {phase:overlaod} would otherwise pass vacuously in k6);
// - a dry run of setup(), every scenario's function and teardown() against
//   a fake gateway (test/k6/fake-gateway.ts) that refuses whatever the
//   OpenAPI contract refuses, and in which every threshold sees samples;
// - handleSummary() turns k6's end-of-test data into the text and JSON;
// - the suite's copies of the gateway's facts (plans, unit costs, demo keys,
//   warm dashboard pages, problem codes) still match their sources.
//
//   npx node --import tsx --test test/k6/scripts.test.ts

import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { register } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { jwtVerify } from 'jose';
import { parse } from 'yaml';
import { DEMO_KEYS } from '../../entries/demo.ts';
import { PROBLEMS } from '../../platform/errors/catalogue.ts';
import { interpolatedPercentile } from '../../loadtests/bench/statistics.ts';
import { ModelSniffer } from '../../sim/mes/sniff.ts';
import { DEMO_JWT_SECRET, fakeGateway } from './fake-gateway.ts';
import { liveRespond, sleepSync } from './live.ts';
import { state } from './stubs/state.ts';
import type { MetricType, StubRequest } from './stubs/state.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const K6_DIR = resolve(HERE, '../../loadtests/k6');
const STUBS = pathToFileURL(join(HERE, 'stubs') + '/').href;

// `k6` and `k6/*` resolve to the stand-ins. A script loaded with ?k6case=N
// passes N on to its relative imports, so each case gets fresh lib modules
// (they read __ENV when loaded).
const HOOKS = `
let stubs;
export function initialize(data) { stubs = data.stubs; }
export async function resolve(specifier, context, next) {
  if (specifier === 'k6') return { url: stubs + 'k6.ts', shortCircuit: true };
  if (specifier.startsWith('k6/')) return { url: stubs + 'k6-' + specifier.slice(3).replace(/\\//g, '-') + '.ts', shortCircuit: true };
  const resolved = await next(specifier, context);
  if (context.parentURL && (specifier.startsWith('./') || specifier.startsWith('../'))) {
    const parent = new URL(context.parentURL);
    const id = parent.searchParams.get('k6case');
    if (id !== null) {
      const url = new URL(resolved.url);
      url.searchParams.set('k6case', id);
      return { ...resolved, url: url.href };
    }
  }
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { stubs: STUBS } });

type Env = Record<string, string>;
interface Scenario {
  executor: string;
  exec?: string;
  tags?: Record<string, string>;
  env?: Record<string, string>;
  rate?: number;
  timeUnit?: string;
  duration?: string;
  startTime?: string;
  stages?: Array<{ duration: string; target: number }>;
  preAllocatedVUs?: number;
  maxVUs?: number;
}
interface ScriptModule {
  options: { scenarios: Record<string, Scenario>; thresholds: Record<string, string[]> };
  setup?: () => unknown;
  teardown?: (data: unknown) => void;
  handleSummary: (data: unknown) => Record<string, string>;
  [name: string]: unknown;
}

const globals = globalThis as unknown as { __ENV: Env; __VU: number; __ITER: number };
let caseId = 0;

/** Loads a module of loadtests/k6 afresh, with this environment. */
async function load<T>(file: string, env: Env = {}): Promise<T> {
  globals.__ENV = { ...env };
  globals.__VU = 1;
  globals.__ITER = 0;
  caseId += 1;
  return (await import(`${pathToFileURL(join(K6_DIR, file)).href}?k6case=${caseId}`)) as T;
}

const SCRIPTS = ['smoke.ts', 'seller-mix.ts', 'burst.ts', 'noisy-neighbour.ts', 'overload.ts', 'mes-outage.ts', 'soak.ts', 'overhead.ts'];
/** What a run needs beyond the defaults (overload: a capacity). */
const BASE_ENV: Env = { CAPACITY_RPS: '400', OVERLOAD_PAID_KEY: 'loadtest-paid-key', OVERLOAD_FREE_KEY: 'loadtest-free-key' };
/** Variants of the environment each script is also checked with. */
const VARIANTS: Array<{ name: string; script: string; env: Env }> = [
  { name: 'writes off', script: 'smoke.ts', env: { WRITES: 'off' } },
  { name: 'writes off', script: 'seller-mix.ts', env: { WRITES: 'off' } },
  { name: 'writes off', script: 'mes-outage.ts', env: { WRITES: 'off' } },
  { name: 'calibrate', script: 'overload.ts', env: { MODE: 'calibrate', CAL_STEPS: '3' } },
  { name: 'with a baseline', script: 'noisy-neighbour.ts', env: { BASELINE_P99_MS: '40' } },
  { name: 'with a baseline', script: 'overload.ts', env: { UNLOADED_P99_MS: '30' } },
  { name: 'no operator token', script: 'seller-mix.ts', env: { BASE_URL: 'https://gateway.example' } },
];

const BUILTIN: Record<string, MetricType> = {
  http_req_duration: 'trend',
  http_req_waiting: 'trend',
  http_req_failed: 'rate',
  http_reqs: 'counter',
  checks: 'rate',
  dropped_iterations: 'counter',
  iteration_duration: 'trend',
  iterations: 'counter',
  vus: 'gauge',
};
const STATS: Record<MetricType, RegExp> = {
  trend: /^(avg|min|med|max|p\(\d+(\.\d+)?\))$/,
  rate: /^rate$/,
  counter: /^(count|rate)$/,
  gauge: /^(value|min|max)$/,
};
const EXPRESSION = /^(avg|min|med|max|p\(\d+(?:\.\d+)?\)|rate|count|value)(<=|>=|==|===|!=|<|>)(-?\d+(?:\.\d+)?)$/;
const REPORT_ONLY = ['max>=0', 'count>=0', 'rate>=0', 'med>=0', 'value>=0'];
const KINDS = ['read', 'write', 'operator', 'probe'];
const CLASSES = ['critical', 'write', 'paid-read', 'free-read', 'builtin'];
const SELLERS = ['free', 'standard', 'enterprise', 'operator', 'none', 'victim', 'noisy', 'overload-paid', 'overload-free'];
const SCENARIO_TAGS = ['phase', 'window', 'variant', 'step'];
/** Metrics sampled only on some answers (429/503, problems): a happy dry run leaves them empty. */
const CONDITIONAL = ['facet_reject_duration', 'facet_problems', 'dropped_iterations'];

function parseKey(key: string): { metric: string; filter: Record<string, string> } {
  const m = /^([A-Za-z0-9_]+)(?:\{([^{}]*)\})?$/.exec(key);
  assert.ok(m, `threshold key "${key}" is not metric or metric{tag:value,...}`);
  const filter: Record<string, string> = {};
  for (const part of (m[2] ?? '').split(',').filter(Boolean)) {
    const at = part.indexOf(':');
    assert.ok(at > 0 && at < part.length - 1, `threshold key "${key}": "${part}" is not tag:value`);
    filter[part.slice(0, at)] = part.slice(at + 1);
  }
  return { metric: m[1] as string, filter };
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function checkOptions(mod: ScriptModule, opsKnown: readonly string[], codesKnown: readonly string[]): void {
  const { scenarios, thresholds } = mod.options;
  assert.ok(scenarios && Object.keys(scenarios).length > 0, 'options.scenarios is empty');
  const tagValues: Record<string, Set<string>> = {};
  for (const [name, s] of Object.entries(scenarios)) {
    assert.match(name, /^[A-Za-z0-9_-]+$/, `scenario name ${name}`);
    assert.ok(['constant-arrival-rate', 'ramping-arrival-rate'].includes(s.executor), `scenario ${name}: executor ${s.executor} is not an arrival-rate executor`);
    assert.ok(s.exec && typeof mod[s.exec] === 'function', `scenario ${name}: exec "${s.exec}" is not an exported function`);
    assert.ok((s.preAllocatedVUs ?? 0) >= 1 && (s.maxVUs ?? 0) >= (s.preAllocatedVUs ?? 0), `scenario ${name}: VUs ${s.preAllocatedVUs}/${s.maxVUs}`);
    assert.match(s.startTime ?? '0s', /^\d+s$/, `scenario ${name}: startTime`);
    if (s.executor === 'constant-arrival-rate') {
      assert.ok(Number.isInteger(s.rate) && (s.rate ?? 0) >= 1, `scenario ${name}: rate ${s.rate} must be a positive integer`);
      assert.match(s.timeUnit ?? '', /^1(s|m|h)$/, `scenario ${name}: timeUnit`);
      assert.match(s.duration ?? '', /^[1-9]\d*s$/, `scenario ${name}: duration`);
    } else {
      assert.ok((s.stages ?? []).length > 0, `scenario ${name}: stages`);
    }
    for (const [k, v] of Object.entries(s.tags ?? {})) (tagValues[k] ??= new Set()).add(v);
  }

  const keys = Object.keys(thresholds);
  assert.ok(keys.some((k) => (thresholds[k] ?? []).some((e) => !REPORT_ONLY.includes(e.replace(/\s+/g, '')))), 'no threshold can fail');
  for (const key of keys) {
    const { metric, filter } = parseKey(key);
    const type = BUILTIN[metric] ?? state.metricTypes[metric]?.type;
    assert.ok(type, `threshold ${key}: no metric ${metric} (built-in or created in the init context)`);
    for (const expression of thresholds[key] ?? []) {
      const m = EXPRESSION.exec(expression.replace(/\s+/g, ''));
      assert.ok(m, `threshold ${key}: "${expression}" is not a k6 threshold expression`);
      assert.match(m[1] as string, STATS[type], `threshold ${key}: ${m[1]} is not a statistic of a ${type}`);
    }
    for (const [tag, value] of Object.entries(filter)) {
      if (tag === 'scenario') assert.ok(value in scenarios, `threshold ${key}: no scenario ${value}`);
      else if (tag === 'op') assert.ok(opsKnown.includes(value), `threshold ${key}: no operation ${value}`);
      else if (tag === 'kind') assert.ok(KINDS.includes(value), `threshold ${key}: kind ${value}`);
      else if (tag === 'class') assert.ok(CLASSES.includes(value), `threshold ${key}: class ${value}`);
      else if (tag === 'seller' || tag === 'plan') assert.ok(SELLERS.includes(value), `threshold ${key}: ${tag} ${value}`);
      else if (tag === 'code') assert.ok(codesKnown.includes(value), `threshold ${key}: code ${value}`);
      else if (SCENARIO_TAGS.includes(tag)) assert.ok(tagValues[tag]?.has(value), `threshold ${key}: no scenario is tagged ${tag}=${value}`);
      else assert.fail(`threshold ${key}: the suite sets no tag "${tag}"`);
    }
  }
}

function matches(tags: Record<string, string>, filter: Record<string, string>): boolean {
  return Object.entries(filter).every(([k, v]) => tags[k] === v);
}

/** Values of the metric (or sub-metric) named by a threshold key, from what the dry run recorded. */
function samplesOf(metric: string, filter: Record<string, string>): number[] {
  if (metric === 'http_req_duration' || metric === 'http_req_waiting') {
    return state.requests.filter((r) => r.duration !== undefined && r.tags.kind !== 'setup' && matches(r.tags, filter)).map((r) => r.duration as number);
  }
  if (metric === 'http_reqs') return state.requests.filter((r) => matches(r.tags, filter)).map(() => 1);
  if (metric === 'http_req_failed') return state.requests.filter((r) => matches(r.tags, filter)).map((r) => ((r.status ?? 0) >= 400 || !r.status ? 1 : 0));
  if (metric === 'checks') return state.checks.filter((c) => matches(c.tags, filter)).map((c) => (c.ok ? 1 : 0));
  return state.samples.filter((s) => s.metric === metric && matches(s.tags, filter)).map((s) => s.value);
}

/** A trend's p(N) as k6 reports it: interpolated between the closest ranks, 0 with no sample. */
function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : interpolatedPercentile(sorted, p);
}

function aggregate(type: MetricType, values: number[], durationSec: number): Record<string, number> {
  if (type === 'rate') {
    const passes = values.filter((v) => v !== 0).length;
    return { rate: values.length ? passes / values.length : 0, passes, fails: values.length - passes };
  }
  if (type === 'counter') {
    const count = values.reduce((a, b) => a + b, 0);
    return { count, rate: count / durationSec };
  }
  if (type === 'gauge') return { value: values[values.length - 1] ?? 0, min: Math.min(0, ...values), max: Math.max(0, ...values) };
  const sorted = values.slice().sort((a, b) => a - b);
  const out: Record<string, number> = {
    count: sorted.length,
    avg: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0,
    min: sorted[0] ?? 0,
    med: percentile(sorted, 50),
    max: sorted[sorted.length - 1] ?? 0,
  };
  for (const p of [90, 95, 99]) out[`p(${p})`] = percentile(sorted, p);
  return out;
}

function holds(values: Record<string, number>, expression: string): boolean {
  const m = EXPRESSION.exec(expression.replace(/\s+/g, '')) as RegExpExecArray;
  const v = values[m[1] as string] ?? 0;
  const limit = Number(m[3]);
  switch (m[2]) {
    case '<':
      return v < limit;
    case '<=':
      return v <= limit;
    case '>':
      return v > limit;
    case '>=':
      return v >= limit;
    case '!=':
      return v !== limit;
    default:
      return v === limit;
  }
}

/** k6's end-of-test data (the handleSummary argument) built from the dry run's samples. */
function summaryData(mod: ScriptModule, setupData: unknown, durationSec = 60): { data: { metrics: Record<string, unknown>; root_group: unknown; state: unknown; setup_data: unknown }; allOk: boolean } {
  const metrics: Record<string, unknown> = {};
  let allOk = true;
  const add = (key: string, withThresholds: boolean) => {
    const { metric, filter } = parseKey(key);
    const type = BUILTIN[metric] ?? state.metricTypes[metric]?.type ?? 'counter';
    const values = aggregate(type, samplesOf(metric, filter), durationSec);
    const entry: Record<string, unknown> = { type, contains: type === 'trend' && (BUILTIN[metric] || state.metricTypes[metric]?.isTime) ? 'time' : 'default', values };
    if (withThresholds) {
      const th: Record<string, { ok: boolean }> = {};
      for (const e of mod.options.thresholds[key] ?? []) {
        const ok = holds(values, e);
        th[e] = { ok };
        if (!REPORT_ONLY.includes(e.replace(/\s+/g, ''))) allOk &&= ok;
      }
      entry.thresholds = th;
    }
    metrics[key] = entry;
  };
  for (const key of Object.keys(mod.options.thresholds)) add(key, true);
  for (const key of ['http_reqs', 'http_req_duration', 'facet_ok', 'facet_429', 'facet_503', 'facet_shed', 'facet_5xx', 'facet_transport_error', 'facet_stale']) if (!(key in metrics)) add(key, false);
  const checks = new Map<string, { name: string; passes: number; fails: number }>();
  for (const c of state.checks) {
    const entry = checks.get(c.name) ?? { name: c.name, passes: 0, fails: 0 };
    if (c.ok) entry.passes += 1;
    else entry.fails += 1;
    checks.set(c.name, entry);
  }
  const root_group = { name: '', path: '', checks: [...checks.values()], groups: [] };
  return { data: { metrics, root_group, state: { testRunDurationMs: durationSec * 1000, isStdOutTTY: false }, setup_data: setupData }, allOk };
}

/** A seeded Math.random, so that a dry run draws the same mix every time. */
function seededRandom(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

/** Runs setup(), each scenario's function `iterations` times with its env and tags, and teardown(), like k6 would. */
function dryRun(mod: ScriptModule, env: Env, iterations = 200, paced = false): unknown {
  const random = Math.random;
  Math.random = seededRandom(42);
  try {
    return dryRunSeeded(mod, env, iterations, paced);
  } finally {
    Math.random = random;
  }
}

/** Seconds between two iterations of a scenario at its (first) rate. */
function intervalOf(s: Scenario): number {
  const unit = s.timeUnit === '1h' ? 3600 : s.timeUnit === '1m' ? 60 : 1;
  const rate = s.rate ?? s.stages?.[0]?.target ?? 60;
  return unit / Math.max(1, rate);
}

function dryRunSeeded(mod: ScriptModule, env: Env, iterations: number, paced: boolean): unknown {
  state.currentTags = {};
  globals.__ENV = { ...env };
  const setupData: unknown = mod.setup ? JSON.parse(JSON.stringify(mod.setup() ?? null)) : undefined;
  for (const [name, s] of Object.entries(mod.options.scenarios)) {
    state.currentTags = { scenario: name, ...(s.tags ?? {}) };
    globals.__ENV = { ...env, ...(s.env ?? {}) };
    const fn = mod[s.exec as string] as (data: unknown) => void;
    for (let i = 0; i < iterations; i += 1) {
      globals.__ITER = i;
      fn(setupData);
      if (paced) sleepSync(Math.min(1, intervalOf(s)));
    }
  }
  state.currentTags = {};
  globals.__ENV = { ...env };
  mod.teardown?.(setupData);
  return setupData;
}

describe('k6 suite: sources', () => {
  test('the eight scenario scripts are there', () => {
    const scripts = readdirSync(K6_DIR).filter((f) => f.endsWith('.ts')).sort();
    assert.deepEqual(scripts, SCRIPTS.slice().sort());
  });

  test('imports are k6 modules or relative .ts files that exist (k6 resolves no extensionless or Node import)', () => {
    for (const file of sourceFiles(K6_DIR)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        const spec = m[1] as string;
        const where = `${relative(K6_DIR, file)}: import '${spec}'`;
        if (spec.startsWith('.')) {
          assert.ok(spec.endsWith('.ts'), `${where} needs its .ts extension`);
          assert.ok(existsSync(resolve(dirname(file), spec)), `${where} does not exist`);
        } else {
          assert.match(spec, /^k6(\/[a-z/-]+)?$/, `${where} is not a k6 module`);
        }
      }
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      assert.doesNotMatch(code, /\b(process\.env|require\(|Buffer\.|TextEncoder|URLSearchParams|structuredClone)\b/, `${relative(K6_DIR, file)} uses a Node/DOM API that k6 lacks`);
    }
  });
});

describe('k6 suite: scripts', () => {
  const cases = SCRIPTS.map((script) => ({ name: 'defaults', script, env: {} as Env })).concat(VARIANTS);
  for (const c of cases) {
    describe(`${c.script} (${c.name})`, () => {
      const env = { ...BASE_ENV, ...c.env };
      test('options: arrival-rate scenarios running exported functions, valid thresholds on known metrics and tags', async () => {
        const mod = await load<ScriptModule>(c.script, env);
        const lib = await load<{ OPS: readonly string[] }>('lib/http.ts', env);
        const metrics = await load<{ PROBLEM_CODES: readonly string[] }>('lib/metrics.ts', env);
        checkOptions(mod, lib.OPS, metrics.PROBLEM_CODES);
        assert.equal(typeof mod.handleSummary, 'function', 'handleSummary');
      });

      test('dry run against a fake gateway: contract-valid requests, checks pass, every threshold sees samples, summary text and JSON', async () => {
        state.reset();
        const gw = fakeGateway(env.BASE_URL ?? 'http://localhost:8080');
        state.respond = gw.respond;
        const mod = await load<ScriptModule>(c.script, env);
        const setupData = dryRun(mod, env);
        assert.deepEqual(gw.violations, [], 'requests the contract refuses');
        assert.ok(state.requests.length > 0, 'no request sent');
        assert.deepEqual(state.checks.filter((x) => !x.ok).map((x) => `${x.name} ${JSON.stringify(x.tags)}`), [], 'failed checks');
        for (const r of state.requests.filter((x: StubRequest) => x.tags.kind !== 'setup' && !x.url.includes('/_sim/'))) {
          for (const tag of ['name', 'op', 'kind', 'class', 'plan', 'seller']) assert.ok(r.tags[tag], `${r.method} ${r.url}: no ${tag} tag`);
        }
        for (const key of Object.keys(mod.options.thresholds)) {
          const { metric, filter } = parseKey(key);
          const reportOnly = (mod.options.thresholds[key] ?? []).every((e) => REPORT_ONLY.includes(e.replace(/\s+/g, '')));
          if (reportOnly || CONDITIONAL.includes(metric)) continue;
          assert.ok(samplesOf(metric, filter).length > 0, `threshold ${key} has no samples: its filter matches nothing the script sends`);
        }

        const { data, allOk } = summaryData(mod, setupData);
        const out = mod.handleSummary(data);
        if (process.env.K6_TEST_PRINT_SUMMARY) console.log(out.stdout);
        assert.ok(out.stdout && out.stdout.includes('facet k6'), 'stdout summary');
        const jsonKey = Object.keys(out).find((k) => k.endsWith('.json'));
        assert.ok(jsonKey, 'JSON summary file');
        const report = JSON.parse(out[jsonKey] as string) as { ok: boolean; thresholds_ok: boolean; thresholds: Array<{ metric: string; ok: boolean }>; checks: unknown[] };
        assert.ok(report.checks.length > 0, 'checks in the JSON');
        assert.equal(report.thresholds_ok, allOk, 'the JSON agrees with the thresholds');
        assert.ok(report.thresholds.length > 0);
        for (const t of report.thresholds) assert.ok(out.stdout.includes(t.metric), `stdout lists ${t.metric}`);
        assert.match(out.stdout, report.ok ? /PASS/ : /FAIL/);
      });
    });
  }
});

describe('k6 suite: helpers', () => {
  test('binaryStl() is a binary STL the MES recognises, one polygon per triangle, a new file per seed', async () => {
    const data = await load<{ binaryStl: (n: number, seed?: number) => ArrayBuffer }>('lib/data.ts');
    const stl = Buffer.from(data.binaryStl(12, 7));
    assert.equal(stl.length, 84 + 50 * 12);
    assert.equal(stl.readUInt32LE(80), 12);
    assert.notEqual(stl.subarray(0, 5).toString('latin1').toLowerCase(), 'solid');
    const sniffer = new ModelSniffer();
    sniffer.feed(stl);
    assert.deepEqual(sniffer.finish(), { format: 'stl', polygons: 12 });
    assert.notDeepEqual(Buffer.from(data.binaryStl(12, 8)), stl);
  });

  test('the minted operator token is an HS256 JWT the gateway accepts', async () => {
    const jwt = await load<{ mintHs256: (secret: string, o?: object) => string; OPERATOR_TOKEN: string; OPERATOR_TOKEN_SOURCE: string }>('lib/jwt.ts');
    const secret = 'a-test-secret-that-is-long-enough-for-hs256';
    const { payload, protectedHeader } = await jwtVerify(jwt.mintHs256(secret, { issuer: 'facet', audience: 'ops' }), new TextEncoder().encode(secret), { issuer: 'facet', audience: 'ops' });
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(payload.role, 'operator');
    assert.ok((payload.exp ?? 0) > Date.now() / 1000);
    // Loopback BASE_URL (the default): minted from the demo secret of npm start.
    await jwtVerify(jwt.OPERATOR_TOKEN, new TextEncoder().encode(DEMO_JWT_SECRET));
    const remote = await load<{ OPERATOR_TOKEN: string }>('lib/jwt.ts', { BASE_URL: 'https://gateway.example' });
    assert.equal(remote.OPERATOR_TOKEN, '', 'never the demo secret against a remote gateway');
  });

  test('overload stops in setup when its sellers\' quotas would answer before shedding', async () => {
    state.reset();
    state.respond = fakeGateway().respond;
    const mod = await load<ScriptModule>('overload.ts', { CAPACITY_RPS: '400' });
    assert.throws(() => mod.setup?.(), /rate limit is 200 units\/s but this run offers 1400 units\/s/);
  });

  test('durations, arrival rates and planned iterations', async () => {
    const config = await load<{ seconds: (d: string) => number }>('lib/config.ts');
    assert.equal(config.seconds('1h30m'), 5400);
    assert.equal(config.seconds('90s'), 90);
    assert.equal(config.seconds('500ms'), 0.5);
    assert.throws(() => config.seconds('2 minutes'));
    const s = await load<{ arrival: (r: number) => { rate: number; timeUnit: string }; plannedIterations: (x: object) => number }>('lib/scenarios.ts');
    assert.deepEqual(s.arrival(50), { rate: 50, timeUnit: '1s' });
    assert.deepEqual(s.arrival(0.5), { rate: 30, timeUnit: '1m' });
    assert.deepEqual(s.arrival(0.01), { rate: 36, timeUnit: '1h' });
    assert.equal(s.plannedIterations({ a: { executor: 'constant-arrival-rate', rate: 30, timeUnit: '1m', duration: '120s', preAllocatedVUs: 1 } }), 60);
    await assert.rejects(load('overload.ts', {}), /CAPACITY_RPS is required/);
  });

  test('the mix stays within each plan and its daily quota', async () => {
    const mix = await load<{ mixRate: (p: string, u: number, d: number, w: boolean) => number; unitsPerIteration: (w: boolean, p: string) => number }>('lib/mix.ts');
    const perIteration = mix.unitsPerIteration(true, 'standard');
    assert.ok(perIteration > 1 && perIteration < 3, `${perIteration} units per request`);
    // 10 minutes at half the rate: half of each plan's rate limit.
    assert.ok(Math.abs(mix.mixRate('standard', 0.5, 600, true) * perIteration - 25) < 1e-9);
    // 1 hour for the free plan: capped by half of its 5,000 daily units.
    assert.ok(mix.mixRate('free', 0.3, 3600, true) * mix.unitsPerIteration(true, 'free') * 3600 <= 2500 + 1e-6);
    // A free seller quotes and uploads rarely: at most one 10-unit quote per ~50 s at half its rate.
    assert.ok(mix.unitsPerIteration(true, 'free') < perIteration);
  });
});

describe('k6 suite: copies of the gateway facts', () => {
  const config = parse(readFileSync(new URL('../../gateway.config.yml', import.meta.url), 'utf8')) as {
    plans: Record<string, { tier: string; rate: { perSecond: number; burst: number; burstWindowSec: number }; dailyQuota: number; concurrentPriceJobs: number }>;
    pipelines: Record<string, { policies: Array<Record<string, { action?: { refreshAhead?: Array<{ query: Record<string, string> }> } }>> }>;
  };

  test('plan limits match gateway.config.yml', async () => {
    const { LIMITS } = await load<{ LIMITS: Record<string, Record<string, unknown>> }>('lib/config.ts');
    for (const [plan, p] of Object.entries(config.plans)) {
      assert.deepEqual(LIMITS[plan], {
        perSecond: p.rate.perSecond,
        burst: p.rate.burst,
        burstWindowSec: p.rate.burstWindowSec,
        dailyQuota: p.dailyQuota,
        concurrentPriceJobs: p.concurrentPriceJobs,
        tier: p.tier,
      }, `plan ${plan}`);
    }
  });

  test('unit costs match x-ratelimit.cost of openapi/seller-api.yaml', async () => {
    const spec = parse(readFileSync(new URL('../../openapi/seller-api.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, { operationId?: string; 'x-ratelimit'?: { cost: number } }>> };
    const costs: Record<string, number> = {};
    for (const item of Object.values(spec.paths)) for (const op of Object.values(item)) if (op?.operationId && op['x-ratelimit']) costs[op.operationId] = op['x-ratelimit'].cost;
    const { UNIT_COST } = await load<{ UNIT_COST: Record<string, number> }>('lib/api.ts');
    assert.deepEqual(UNIT_COST, costs);
  });

  test('demo keys, demo secret, warm dashboard pages and problem codes match the gateway', async () => {
    const { KEYS } = await load<{ KEYS: Record<string, string> }>('lib/config.ts');
    for (const demo of DEMO_KEYS) assert.equal(KEYS[demo.plan], demo.key);
    const demoSource = readFileSync(new URL('../../entries/demo.ts', import.meta.url), 'utf8');
    assert.ok(demoSource.includes(`'${DEMO_JWT_SECRET}'`), 'demo JWT secret');
    const jwtSource = readFileSync(join(K6_DIR, 'lib/jwt.ts'), 'utf8');
    assert.ok(jwtSource.includes(`'${DEMO_JWT_SECRET}'`), 'lib/jwt.ts demo secret');

    const steps = config.pipelines.operatorDashboard?.policies ?? [];
    const warm = steps.flatMap((s) => s.cache?.action?.refreshAhead ?? []).map((r) => Object.entries(r.query).map(([k, v]) => `${k}=${v}`).join('&'));
    const { WARM_DASHBOARD_QUERIES } = await load<{ WARM_DASHBOARD_QUERIES: readonly string[] }>('lib/api.ts');
    assert.deepEqual([...WARM_DASHBOARD_QUERIES].sort(), warm.sort());

    const { PROBLEM_CODES } = await load<{ PROBLEM_CODES: readonly string[] }>('lib/metrics.ts');
    for (const code of PROBLEM_CODES) assert.ok(code in PROBLEMS, `${code} is not in platform/errors/catalogue.ts`);
  });
});

// Opt-in: the same dry run against a running gateway, real HTTP through curl,
// one request at a time at most at each scenario's rate. Not a load test:
// it shows that the scripts' requests and expectations hold against the real
// thing. Variables K6_ENV_<NAME> are passed to the scripts as <NAME>.
//   K6_LIVE_BASE_URL=http://localhost:8080 K6_ENV_WRITES=off npx node --import tsx --test test/k6/scripts.test.ts
const LIVE = process.env.K6_LIVE_BASE_URL ?? '';
describe('k6 suite: live dry run', { skip: LIVE ? false : 'set K6_LIVE_BASE_URL to run' }, () => {
  const scripts = (process.env.K6_LIVE_SCRIPTS ?? 'smoke.ts,seller-mix.ts,mes-outage.ts,overhead.ts').split(',').filter(Boolean);
  const env: Env = { ...BASE_ENV, BASE_URL: LIVE };
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('K6_ENV_') && v !== undefined) env[k.slice(7)] = v;
  for (const script of scripts) {
    test(`${script} against ${LIVE}`, async () => {
      state.reset();
      state.respond = liveRespond;
      state.onSleep = sleepSync;
      const mod = await load<ScriptModule>(script, env);
      const setupData = dryRun(mod, env, Number(process.env.K6_LIVE_ITERATIONS ?? 10), true);
      const { data } = summaryData(mod, setupData);
      console.log(mod.handleSummary(data).stdout);
      // Quotas and shedding may answer a real gateway (they are the thresholds' business);
      // what must not happen: no answer, a 5xx other than 503, a 4xx the script did not expect.
      for (const metric of ['facet_transport_error', 'facet_5xx', 'facet_unexpected_4xx']) {
        const bad = state.samples.filter((x) => x.metric === metric && x.value !== 0).map((x) => JSON.stringify(x.tags));
        assert.deepEqual(bad, [], metric);
      }
    });
  }
});
