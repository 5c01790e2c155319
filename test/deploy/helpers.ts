// Shared by the deploy/ checks: the repository root, YAML loading, and the
// facts the code holds (metric names, environment variables it reads).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function read(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** One YAML document; `<<` merge keys resolved, as Compose does. */
export function readYaml(file: string): unknown {
  return parseYaml(read(file));
}

export function parseYaml(text: string): unknown {
  return parse(text, { merge: true });
}

export function readYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(read(file)).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return doc.toJS();
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `facet-${prefix}-`));
}

export interface RunResult {
  status: number | null;
  output: string;
}

export function run(command: string, args: string[], cwd: string = ROOT): RunResult {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Whether a system tool is installed (.ci/run installs promtool and nginx). */
export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir))) {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'generated') continue;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path));
    else if (path.endsWith('.ts')) out.push(path);
  }
  return out;
}

const CODE_DIRS = ['contracts', 'platform', 'policies', 'gateway', 'adapters', 'sim', 'entries'];

/**
 * Metrics the deploy files may use: every `name: 'facet_...'` registered in
 * the code, plus the names agreed with the engineers adding them now
 * (the RED histogram, the bus and saga metrics, webhooks later).
 */
export const CONTRACTED_METRICS = [
  'facet_http_request_duration_seconds',
  'facet_gateway_overhead_seconds',
  'facet_bus_publish_confirm_seconds',
  'facet_bus_queue_messages',
  'facet_bus_consumer_lag_seconds',
  'facet_bus_redeliveries_total',
  'facet_bus_dead_letters_total',
  'facet_saga_outcomes_total',
  'facet_order_status_transitions_total',
  'facet_webhook_deliveries_total',
];

export function metricsInCode(): Set<string> {
  const names = new Set<string>();
  for (const file of CODE_DIRS.flatMap(sourceFiles)) {
    for (const match of read(file).matchAll(/name:\s*['"](facet_[a-z0-9_]+)['"]/g)) names.add(match[1] as string);
  }
  return names;
}

export function knownMetrics(): Set<string> {
  return new Set([...metricsInCode(), ...CONTRACTED_METRICS]);
}

/** facet_* names an expression uses, histogram/summary suffixes removed when the base is known. */
export function unknownMetrics(expr: string, known: Set<string>): string[] {
  const unknown: string[] = [];
  for (const match of expr.matchAll(/\bfacet_[a-z0-9_]+/g)) {
    const name = match[0];
    const base = name.replace(/_(bucket|count|sum)$/, '');
    if (!known.has(name) && !known.has(base)) unknown.push(name);
  }
  return unknown;
}

/**
 * Environment variables the processes read: `env.X`, `env['X']`, the
 * simulators' `*FromEnv('X', ...)` helpers (a prefix for latencyFromEnv),
 * and `${X}` in gateway.config.yml.
 */
export function envReadByCode(): { names: Set<string>; prefixes: Set<string> } {
  const names = new Set<string>();
  const prefixes = new Set<string>();
  for (const file of CODE_DIRS.flatMap(sourceFiles)) {
    const text = read(file);
    for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)) names.add((m[1] ?? m[2]) as string);
    for (const m of text.matchAll(/\b(int|number|latency|faults)FromEnv\(\s*['"]([A-Z][A-Z0-9_]*)['"]/g)) {
      if (m[1] === 'latency') prefixes.add(`${m[2]}_`);
      else names.add(m[2] as string);
    }
  }
  for (const m of read('gateway.config.yml').matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)) names.add(m[1] as string);
  return { names, prefixes };
}

/** Read by Node itself or the OpenTelemetry SDK (standard names), not by our code. */
export const RUNTIME_ENV = new Set(['NODE_ENV', 'NODE_OPTIONS']);
export const OTEL_ENV = /^OTEL_[A-Z_]+$/;
export function isReadByCode(name: string, read: { names: Set<string>; prefixes: Set<string> }): boolean {
  if (read.names.has(name) || RUNTIME_ENV.has(name) || OTEL_ENV.test(name)) return true;
  return [...read.prefixes].some((prefix) => name.startsWith(prefix));
}

/** Environment variables the k6 scripts read (`env('X', ...)`, `envNumber('X', ...)`, `__ENV.X`). */
export function envReadByK6(): Set<string> {
  const names = new Set<string>();
  const dir = 'loadtests/k6';
  for (const file of sourceFiles(dir)) {
    const text = read(file);
    for (const m of text.matchAll(/\benv(?:Number|Bool|Duration|Int)?\(\s*['"]([A-Z][A-Z0-9_]*)['"]/g)) names.add(m[1] as string);
    for (const m of text.matchAll(/__ENV(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)) names.add((m[1] ?? m[2]) as string);
  }
  return names;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
