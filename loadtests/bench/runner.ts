// Runs scenarios: start their processes, check each variant answers, warm
// up, then measure the variants interleaved (A B, B A, A B, ...) so drift on a
// noisy machine hits both alike, and summarise each by the median of rounds.

import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { measure } from './measure.ts';
import type { Measurement } from './measure.ts';
import { ProcessGroup } from './processes.ts';
import type { PreparedScenario, Scenario, Variant, VariantSummary } from './scenarios/types.ts';

export interface BenchSettings {
  mode: 'full' | 'smoke';
  durationS: number;
  warmupS: number;
  connections: number;
  rounds: number;
  /** A run whose (errors + non-2xx) / attempts exceeds this fails the benchmark. */
  maxErrorRate: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  prepared: PreparedScenario;
  summaries: Map<string, VariantSummary>;
  /** Every measured run in the order it ran (warm-ups excluded). */
  runs: { round: number; variant: string; measurement: Measurement }[];
  /** 1-minute load average before the scenario started anything: other work competing for the CPUs. */
  loadBefore: number;
  /** Runs over the error budget; non-empty fails the benchmark. */
  failures: string[];
}

export interface RunHooks {
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** Called with each scenario's process group, so the caller can clean up on exit. */
  onGroup(group: ProcessGroup | undefined): void;
  log(line: string): void;
}

const SETTLE_MS = 300;

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function medianCpu(rounds: readonly Measurement[]): Record<string, number | undefined> {
  const labels = new Set(rounds.flatMap((m) => Object.keys(m.cpuMicrosPerRequest)));
  const out: Record<string, number | undefined> = {};
  for (const label of labels) {
    const values = rounds.map((m) => m.cpuMicrosPerRequest[label]);
    out[label] = values.every((v) => v !== undefined) ? median(values as number[]) : undefined;
  }
  return out;
}

export function summarise(name: string, rounds: readonly Measurement[]): VariantSummary {
  const requests = rounds.reduce((sum, m) => sum + m.requests, 0);
  const failures = rounds.reduce((sum, m) => sum + m.errors + m.non2xx, 0);
  const attempts = requests + rounds.reduce((sum, m) => sum + m.errors, 0);
  return {
    name,
    rounds: [...rounds],
    reqPerSec: median(rounds.map((m) => m.reqPerSec)),
    p50Ms: median(rounds.map((m) => m.p50Ms)),
    p99Ms: median(rounds.map((m) => m.p99Ms)),
    cpuMicrosPerRequest: medianCpu(rounds),
    requests,
    failures,
    errorRate: attempts === 0 ? 1 : failures / attempts,
  };
}

async function checkAnswers(variant: Variant, signal: AbortSignal): Promise<void> {
  const { url, method = 'GET', headers, body } = variant.request;
  const response = await fetch(url, { method, headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${variant.name}: ${method} ${url} answered ${response.status} before the load started: ${text.slice(0, 300)}`);
}

function describe(m: Measurement): string {
  const cpu = Object.entries(m.cpuMicrosPerRequest)
    .map(([label, us]) => `${label} ${us === undefined ? 'n/a' : Math.round(us)} µs`)
    .join(', ');
  const bad = m.errors + m.non2xx > 0 ? `, ${m.errors} errors, ${m.non2xx} non-2xx` : '';
  return `${Math.round(m.reqPerSec)} req/s, p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, CPU/req: ${cpu}${bad}`;
}

function overBudget(scenario: string, variant: string, what: string, m: Measurement, settings: BenchSettings): string | undefined {
  if (m.requests > 0 && m.errorRate <= settings.maxErrorRate) return undefined;
  const statuses = Object.entries(m.statusCounts).map(([code, n]) => `${code}: ${n}`).join(', ');
  return `${scenario}/${variant} ${what}: ${(m.errorRate * 100).toFixed(3)}% failed (${m.errors} errors, ${m.timeouts} timeouts, ${m.non2xx} non-2xx; statuses ${statuses || 'none'}) > ${(settings.maxErrorRate * 100).toFixed(1)}%`;
}

export async function runScenario(scenario: Scenario, settings: BenchSettings, hooks: RunHooks): Promise<ScenarioResult> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const group = new ProcessGroup();
  hooks.onGroup(group);
  try {
    hooks.log(`[${scenario.name}] starting processes (1-min load average ${loadBefore.toFixed(2)}${loadBefore >= 1 ? ': other work is competing for the CPUs, expect noise' : ''})`);
    const prepared = await scenario.prepare({ group });
    const signal = AbortSignal.any([hooks.signal, group.signal]);
    const load = { durationS: settings.durationS, connections: settings.connections, cpu: prepared.cpu, signal };
    const failures: string[] = [];
    for (const variant of prepared.variants) await checkAnswers(variant, signal);

    // The gateway's JIT needs 10-20 s of load to settle (its CPU/request falls by a third); less shows as a dearer first round.
    for (const variant of settings.warmupS > 0 ? prepared.variants : []) {
      const m = await measure(variant.request, { ...load, durationS: settings.warmupS });
      hooks.log(`[${scenario.name}] warm-up ${variant.name}: ${describe(m)}`);
      const failure = overBudget(scenario.name, variant.name, 'warm-up', m, settings);
      if (failure) failures.push(failure);
      await sleep(SETTLE_MS, undefined, { signal });
    }

    const rounds = new Map<string, Measurement[]>(prepared.variants.map((v) => [v.name, []]));
    const runs: ScenarioResult['runs'] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const order = round % 2 === 1 ? prepared.variants : [...prepared.variants].reverse();
      for (const variant of order) {
        const m = await measure(variant.request, load);
        rounds.get(variant.name)?.push(m);
        runs.push({ round, variant: variant.name, measurement: m });
        hooks.log(`[${scenario.name}] round ${round}/${settings.rounds} ${variant.name}: ${describe(m)}`);
        const failure = overBudget(scenario.name, variant.name, `round ${round}`, m, settings);
        if (failure) failures.push(failure);
        await sleep(SETTLE_MS, undefined, { signal });
      }
    }
    group.signal.throwIfAborted();
    const summaries = new Map([...rounds].map(([name, ms]) => [name, summarise(name, ms)]));
    for (const problem of prepared.validate?.(summaries) ?? []) failures.push(`${scenario.name}: ${problem}`);
    return { scenario, prepared, summaries, runs, loadBefore, failures };
  } catch (error) {
    // Say why: a child that died, or the user's Ctrl-C, rather than "aborted".
    if (group.signal.aborted) throw group.signal.reason;
    if (hooks.signal.aborted) throw hooks.signal.reason;
    throw error;
  } finally {
    await group.stopAll();
    hooks.onGroup(undefined);
  }
}
