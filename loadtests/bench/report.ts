// Markdown for a scenario's results, and docs/performance.md: each scenario
// owns the text between its markers; everything else in the file (the
// hand-written intro, other scenarios' sections) is left as it is.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { LOAD_GENERATOR } from './measure.ts';
import type { BenchSettings, ScenarioResult } from './runner.ts';

export interface RunEnvironment {
  cpus: number;
  cpuModel: string;
  node: string;
  date: string;
  commit: string;
  command: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() || 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

function gitCommit(cwd: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} + uncommitted changes` : sha;
  } catch {
    return 'unknown commit';
  }
}

/** How this run was started, as someone would type it again. */
export function commandLine(args: readonly string[]): string {
  const rest = args.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return rest ? `npm run bench -- ${rest}` : 'npm run bench';
  return `node loadtests/bench/main.ts${rest ? ` ${rest}` : ''}`;
}

export function runEnvironment(args: readonly string[], cwd: string): RunEnvironment {
  return {
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    node: process.version,
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    commit: gitCommit(cwd),
    command: commandLine(args),
  };
}

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const us = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? 'n/a' : String(Math.round(n)));
const pct = (n: number): string => `${(n * 100).toFixed(n === 0 ? 0 : 3)}%`;

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function cpuLabelsOf(result: ScenarioResult): string[] {
  return [...result.prepared.cpu.map((p) => p.label), LOAD_GENERATOR];
}

function resultsTable(result: ScenarioResult, cpuLabels: readonly string[]): string[] {
  const header = ['variant', 'req/s', 'p50 ms', 'p99 ms', 'failed', ...cpuLabels.map((l) => `${l} CPU µs/req`)];
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const variant of result.prepared.variants) {
    const s = result.summaries.get(variant.name);
    if (!s) continue;
    lines.push(row([variant.name, int(s.reqPerSec), ms(s.p50Ms), ms(s.p99Ms), pct(s.errorRate), ...cpuLabels.map((l) => us(s.cpuMicrosPerRequest[l]))]));
  }
  return lines;
}

/** Every measurement in run order (the order flips each round), to show the spread. */
function roundsTable(result: ScenarioResult, cpuLabels: readonly string[]): string[] {
  const header = ['round', 'variant', 'req/s', 'p50 ms', 'p99 ms', ...cpuLabels.map((l) => `${l} µs/req`)];
  const lines = [row(header), row(header.map((_, i) => (i < 2 ? '---' : '---:')))];
  for (const { round, variant, measurement: m } of result.runs) {
    lines.push(row([String(round), variant, int(m.reqPerSec), ms(m.p50Ms), ms(m.p99Ms), ...cpuLabels.map((l) => us(m.cpuMicrosPerRequest[l]))]));
  }
  return lines;
}

/** One scenario's section (without the markers). */
export function renderSection(result: ScenarioResult, settings: BenchSettings, env: RunEnvironment): string {
  const { scenario, prepared } = result;
  const cpuLabels = cpuLabelsOf(result);
  const lines = [
    `## ${scenario.name}`,
    '',
    scenario.description,
    '',
    ...prepared.variants.map((v) => `- **${v.name}**: ${v.description}`),
    '',
    `Measured ${env.date} on ${env.cpus} × ${env.cpuModel}, Node ${env.node}, commit ${env.commit}, with \`${env.command}\`: ` +
      `${settings.rounds} interleaved round${settings.rounds === 1 ? '' : 's'} × ${settings.durationS} s per variant after a ${settings.warmupS} s warm-up each, ` +
      `${settings.connections} connections; each figure is the median of the rounds. ` +
      `1-minute load average before the run: ${result.loadBefore.toFixed(2)} (other work on the machine; ${env.cpus} CPUs).`,
    '',
    ...resultsTable(result, cpuLabels),
  ];
  const comparisons = prepared.compare?.(result.summaries) ?? [];
  if (comparisons.length > 0) lines.push('', row(['comparison', 'value']), row(['---', '---:']), ...comparisons.map((c) => row([c.label, c.value])));
  const targets = prepared.targets?.(result.summaries) ?? [];
  if (targets.length > 0) {
    lines.push('', row(['target (reported, not enforced)', 'measured', '']), row(['---', '---:', '---']));
    lines.push(...targets.map((t) => row([t.target, t.value, t.met ? 'met' : '**not met**'])));
  }
  lines.push('', '<details><summary>Each measurement, in run order</summary>', '', ...roundsTable(result, cpuLabels), '', '</details>');
  // A note indented by two spaces is a sub-item of the one before.
  if (prepared.notes?.length) lines.push('', ...prepared.notes.map((n) => (n.startsWith('  ') ? `  - ${n.trim()}` : `- ${n}`)));
  return lines.join('\n');
}

const startMarker = (name: string): string => `<!-- bench:${name}:start -->`;
const endMarker = (name: string): string => `<!-- bench:${name}:end -->`;

const NEW_DOC = '# Performance\n\nResults of `npm run bench` (loadtests/bench). Sections between `bench:` markers are written by the harness.\n';

/** Replaces (or appends) the section of each scenario in `markdown`. */
export function replaceSections(markdown: string, sections: ReadonlyMap<string, string>): string {
  let out = markdown;
  for (const [name, body] of sections) {
    const block = `${startMarker(name)}\n${body}\n${endMarker(name)}`;
    const start = out.indexOf(startMarker(name));
    const end = out.indexOf(endMarker(name));
    if (start !== -1 && end > start) {
      out = out.slice(0, start) + block + out.slice(end + endMarker(name).length);
    } else {
      out = `${out.trimEnd()}\n\n${block}\n`;
    }
  }
  return out;
}

export function updateDoc(path: string, sections: ReadonlyMap<string, string>): void {
  const current = existsSync(path) ? readFileSync(path, 'utf8') : NEW_DOC;
  writeFileSync(path, replaceSections(current, sections));
}
