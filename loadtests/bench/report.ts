// Markdown for a scenario's results, and docs/performance.md: each scenario
// owns the text between its markers; everything else in the file (the
// hand-written intro, other scenarios' sections) is left as it is.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { LoadShape } from './load-types.ts';
import { LOAD_GENERATOR } from './measure.ts';
import type { ScenarioResult } from './runner.ts';
import { isDeliveryVariant } from './scenarios/types.ts';
import type { DeliveryVariant, RequestVariant, Variant } from './scenarios/types.ts';
import type { BenchSettings } from './settings.ts';
import { median } from './statistics.ts';
import { chartLinks, type Chart } from './svg-charts.ts';

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

interface Columns {
  offered: boolean;
  refusals: boolean;
}

function requestVariants(result: ScenarioResult): RequestVariant[] {
  return result.prepared.variants.filter((v): v is RequestVariant => !isDeliveryVariant(v));
}

function deliveryVariants(result: ScenarioResult): DeliveryVariant[] {
  return result.prepared.variants.filter(isDeliveryVariant);
}

function columnsOf(result: ScenarioResult): Columns {
  const variants = requestVariants(result);
  return {
    offered: variants.some((v) => v.load?.kind === 'open'),
    refusals: variants.some((v) => (v.expected?.length ?? 0) > 0),
  };
}

/** The p50/p99 cells: of 2xx answers, or (marked †) of the expected refusals for a fast-fail variant. */
function latencyCells(variant: RequestVariant | undefined, s: { p50Ms: number; p99Ms: number; refusedP50Ms: number; refusedP99Ms: number }): string[] {
  if (variant?.latencyOf === 'refused') return [`${ms(s.refusedP50Ms)} †`, `${ms(s.refusedP99Ms)} †`];
  return [ms(s.p50Ms), ms(s.p99Ms)];
}

function resultsTable(result: ScenarioResult, cpuLabels: readonly string[]): string[] {
  if (requestVariants(result).length === 0) return [];
  const cols = columnsOf(result);
  const header = [
    'variant',
    ...(cols.offered ? ['offered req/s'] : []),
    'req/s',
    ...(cols.refusals ? ['2xx/s'] : []),
    'p50 ms',
    'p99 ms',
    ...(cols.refusals ? ['expected non-2xx'] : []),
    'failed',
    ...cpuLabels.map((l) => `${l} CPU µs/req`),
  ];
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const variant of requestVariants(result)) {
    const s = result.summaries.get(variant.name);
    if (!s) continue;
    lines.push(
      row([
        variant.name,
        ...(cols.offered ? [s.offeredPerSec === undefined ? '—' : int(s.offeredPerSec)] : []),
        int(s.reqPerSec),
        ...(cols.refusals ? [int(s.okPerSec)] : []),
        ...latencyCells(variant, s),
        ...(cols.refusals ? [(variant.expected?.length ?? 0) > 0 ? pct(s.refusedShare) : '—'] : []),
        pct(s.errorRate),
        ...cpuLabels.map((l) => us(s.cpuMicrosPerRequest[l])),
      ]),
    );
  }
  return lines;
}

/** Every measurement in run order (the order flips each round), to show the spread. */
function roundsTable(result: ScenarioResult, cpuLabels: readonly string[]): string[] {
  if (result.runs.length === 0) return [];
  const cols = columnsOf(result);
  const byName = new Map(requestVariants(result).map((v) => [v.name, v]));
  const header = [
    'round',
    'variant',
    ...(cols.offered ? ['offered req/s'] : []),
    'req/s',
    ...(cols.refusals ? ['2xx/s'] : []),
    'p50 ms',
    'p99 ms',
    ...(cols.refusals ? ['expected non-2xx'] : []),
    ...cpuLabels.map((l) => `${l} µs/req`),
  ];
  const lines = [row(header), row(header.map((_, i) => (i < 2 ? '---' : '---:')))];
  for (const { round, variant, measurement: m } of result.runs) {
    const v = byName.get(variant);
    lines.push(
      row([
        String(round),
        variant,
        ...(cols.offered ? [m.offeredPerSec === undefined ? '—' : int(m.offeredPerSec)] : []),
        int(m.reqPerSec),
        ...(cols.refusals ? [int(m.okPerSec)] : []),
        ...latencyCells(v, m),
        ...(cols.refusals ? [(v?.expected?.length ?? 0) > 0 ? pct(m.refusedShare) : '—'] : []),
        ...cpuLabels.map((l) => us(m.cpuMicrosPerRequest[l])),
      ]),
    );
  }
  return lines;
}

function counts(record: Record<string, number> | undefined): string {
  const entries = Object.entries(record ?? {}).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '—' : entries.map(([key, n]) => `${key}: ${n.toLocaleString('en-US')}`).join(', ');
}

/** The streams sent alongside a variant (e.g. a noisy neighbour), medians over the rounds. */
function alongsideTable(result: ScenarioResult): string[] {
  const lines: string[] = [];
  for (const variant of requestVariants(result)) {
    const s = result.summaries.get(variant.name);
    for (const [stream, a] of Object.entries(s?.alongside ?? {})) {
      if (lines.length === 0) {
        const header = ['variant', 'traffic alongside', 'offered req/s', 'req/s', '2xx/s', 'p50 ms (2xx)', 'p99 ms (2xx)', 'expected non-2xx', 'failed'];
        lines.push(row(header), row(header.map((_, i) => (i < 2 ? '---' : '---:'))));
      }
      lines.push(row([variant.name, stream, a.offeredPerSec === undefined ? '—' : int(a.offeredPerSec), int(a.reqPerSec), int(a.okPerSec), ms(a.p50Ms), ms(a.p99Ms), pct(a.refusedShare), pct(a.errorRate)]));
    }
  }
  return lines;
}

/** Answers by status and problem code, and header tallies, over all rounds; only when something was not a plain 2xx. */
function answersTable(result: ScenarioResult): string[] {
  const interesting = requestVariants(result).some((v) => {
    const s = result.summaries.get(v.name);
    const streams = s ? [s, ...Object.values(s.alongside)] : [];
    return v.tally !== undefined || streams.some((x) => x.timeouts > 0 || Object.keys(x.statusCounts).some((k) => !k.startsWith('2')));
  });
  if (!interesting) return [];
  const lines = [row(['variant', 'answers, all rounds (status and problem code)', 'header values']), row(['---', '---', '---'])];
  for (const variant of requestVariants(result)) {
    const s = result.summaries.get(variant.name);
    if (!s) continue;
    const tally = variant.tally ? `${variant.tally.header}: ${counts(s.tally)}` : '—';
    // The open-loop generator lists its unanswered requests by cause; autocannon only counts timeouts.
    const unanswered = (x: { timeouts: number; statusCounts: Record<string, number> }): string =>
      x.timeouts > 0 && !Object.keys(x.statusCounts).some((k) => k.startsWith('no answer')) ? `, no answer within 10 s: ${x.timeouts.toLocaleString('en-US')}` : '';
    lines.push(row([variant.name, counts(s.statusCounts) + unanswered(s), tally]));
    for (const [stream, a] of Object.entries(s.alongside)) lines.push(row([`${variant.name} (alongside: ${stream})`, counts(a.statusCounts) + unanswered(a), '—']));
  }
  return lines;
}

/** The delivery variants: events sent, timed to where they arrived; figures per delivery (one event reaching one receiver). */
function deliveriesTable(result: ScenarioResult, cpuLabels: readonly string[]): string[] {
  const variants = deliveryVariants(result);
  if (variants.length === 0) return [];
  const offered = [...result.deliveries.values()].some((s) => s.offeredPerSec !== undefined);
  const header = [
    'variant',
    ...(offered ? ['offered events/s'] : []),
    'events',
    'receivers',
    'deliveries/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'lost',
    'duplicates',
    ...cpuLabels.map((l) => `${l} CPU µs/delivery`),
  ];
  const lines = [row(header), row(header.map((_, i) => (i === 0 ? '---' : '---:')))];
  for (const variant of variants) {
    const s = result.deliveries.get(variant.name);
    if (!s) continue;
    const events = median(s.rounds.map((m) => m.sent));
    lines.push(
      row([
        variant.name,
        ...(offered ? [s.offeredPerSec === undefined ? '—' : int(s.offeredPerSec)] : []),
        int(events),
        s.sent > 0 ? int(s.expected / s.sent) : 'n/a',
        int(s.deliveriesPerSec),
        ms(s.p50Ms),
        ms(s.p95Ms),
        ms(s.p99Ms),
        ms(s.maxMs),
        pct(s.errorRate),
        s.duplicates.toLocaleString('en-US'),
        ...cpuLabels.map((l) => us(s.cpuMicrosPerDelivery[l])),
      ]),
    );
  }
  return lines;
}

function deliveryRoundsTable(result: ScenarioResult, cpuLabels: readonly string[]): string[] {
  if (result.deliveryRuns.length === 0) return [];
  const header = ['round', 'variant', 'events', 'deliveries', 'deliveries/s', 'p50 ms', 'p99 ms', 'max ms', ...cpuLabels.map((l) => `${l} µs/delivery`)];
  const lines = [row(header), row(header.map((_, i) => (i < 2 ? '---' : '---:')))];
  for (const { round, variant, measurement: m } of result.deliveryRuns) {
    lines.push(
      row([String(round), variant, int(m.sent), `${int(m.delivered)} / ${int(m.expected)}`, int(m.deliveriesPerSec), ms(m.p50Ms), ms(m.p99Ms), ms(m.maxMs), ...cpuLabels.map((l) => us(m.cpuMicrosPerDelivery[l]))]),
    );
  }
  return lines;
}

export function describeLoad(load: LoadShape | undefined, settings: BenchSettings): string {
  if (load?.kind === 'open') return `open loop, ${int(load.ratePerSec)} req/s constant arrival rate for ${load.durationS ?? settings.durationS} s`;
  const connections = load?.connections ?? settings.connections;
  const size = load?.amount !== undefined ? `${load.amount} requests` : `${load?.durationS ?? settings.durationS} s`;
  return `closed loop, ${connections} connection${connections === 1 ? '' : 's'}, ${size}`;
}

function variantLine(variant: Variant, settings: BenchSettings): string {
  const warmupS = variant.warmupS ?? settings.warmupS;
  if (isDeliveryVariant(variant)) return `- **${variant.name}**: ${variant.description} (${variant.load(settings.durationS)}${warmupS > 0 ? '' : ', no warm-up'})`;
  const extra = Object.entries(variant.alongside ?? {}).map(([name, spec]) => `; at the same time **${name}**: ${describeLoad(spec.load, settings)}`);
  return `- **${variant.name}**: ${variant.description} (${describeLoad(variant.load, settings)}${warmupS > 0 ? '' : ', no warm-up'}${extra.join('')})`;
}

/** Whether every variant uses the run's own load settings (then the header line says it all). */
function uniformLoad(result: ScenarioResult): boolean {
  return result.prepared.variants.every((v) => !isDeliveryVariant(v) && v.load === undefined && v.alongside === undefined && v.warmupS === undefined);
}

/** One scenario's section (without the markers); `charts` (written by the caller to docs/img/bench/) are shown below the tables. */
export function renderSection(result: ScenarioResult, settings: BenchSettings, env: RunEnvironment, charts: readonly Chart[] = []): string {
  const { scenario, prepared } = result;
  const cpuLabels = cpuLabelsOf(result);
  const lines = [
    `## ${scenario.name}`,
    '',
    scenario.description,
    '',
    ...prepared.variants.map((v) => (uniformLoad(result) ? `- **${v.name}**: ${v.description}` : variantLine(v, settings))),
    '',
    `Measured ${env.date} on ${env.cpus} × ${env.cpuModel}, Node ${env.node}, commit ${env.commit}, with \`${env.command}\`: ` +
      (uniformLoad(result)
        ? `${settings.rounds} interleaved round${settings.rounds === 1 ? '' : 's'} × ${settings.durationS} s per variant after a ${settings.warmupS} s warm-up each, ` +
          `${settings.connections} connections; each figure is the median of the rounds. `
        : `${settings.rounds} interleaved round${settings.rounds === 1 ? '' : 's'} per variant, each with the load given above, after a ${settings.warmupS} s warm-up of each variant unless noted; each figure is the median of the rounds. `) +
      `1-minute load average before the run: ${result.loadBefore.toFixed(2)} (other work on the machine; ${env.cpus} CPUs).`,
  ];
  const results = resultsTable(result, cpuLabels);
  if (results.length > 0) lines.push('', ...results);
  const deliveries = deliveriesTable(result, cpuLabels);
  if (deliveries.length > 0) lines.push('', ...deliveries);
  if (requestVariants(result).some((v) => v.latencyOf === 'refused')) lines.push('', '† latency of the expected non-2xx answers (the fast-fails), not of 2xx answers.');
  if (charts.length > 0) lines.push('', ...chartLinks(charts));
  const alongside = alongsideTable(result);
  if (alongside.length > 0) lines.push('', ...alongside);
  const answers = answersTable(result);
  if (answers.length > 0) lines.push('', ...answers);
  const comparisons = prepared.compare?.(result.summaries, result.deliveries) ?? [];
  if (comparisons.length > 0) lines.push('', row(['comparison', 'value']), row(['---', '---:']), ...comparisons.map((c) => row([c.label, c.value])));
  const targets = prepared.targets?.(result.summaries, result.deliveries) ?? [];
  if (targets.length > 0) {
    lines.push('', row(['target (reported, not enforced)', 'measured', '']), row(['---', '---:', '---']));
    lines.push(...targets.map((t) => row([t.target, t.value, t.met ? 'met' : '**not met**'])));
  }
  const rounds = [roundsTable(result, cpuLabels), deliveryRoundsTable(result, cpuLabels)].filter((t) => t.length > 0).flatMap((t) => ['', ...t]);
  lines.push('', '<details><summary>Each measurement, in run order</summary>', ...rounds, '', '</details>');
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
