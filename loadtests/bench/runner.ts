// Runs scenarios: start their processes, check each variant answers, warm
// up, then measure the variants interleaved (A B, B A, A B, ...) so drift on a
// noisy machine hits both alike, and summarise each by the median of rounds.

import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isExpected, problemCode } from './answers.ts';
import { DELIVERY_COUNTS, DELIVERY_LATENCY, measureDeliveries } from './deliveries.ts';
import type { DeliveryCounts, DeliveryLatency, DeliveryMeasurement } from './deliveries.ts';
import type { StreamSpec } from './load-types.ts';
import { measureStreams } from './measure.ts';
import type { LoadOptions, Measurement } from './measure.ts';
import { ProcessGroup } from './processes.ts';
import { isDeliveryVariant } from './scenarios/types.ts';
import type { DeliverySummary, DeliveryVariant, PreparedScenario, RequestVariant, Scenario, VariantSummary } from './scenarios/types.ts';
import type { BenchSettings } from './settings.ts';
import { median } from './statistics.ts';

export interface ScenarioResult {
  scenario: Scenario;
  prepared: PreparedScenario;
  /** The request variants'. */
  summaries: Map<string, VariantSummary>;
  /** The delivery variants'. */
  deliveries: Map<string, DeliverySummary>;
  /** Every measured run of a request variant in the order it ran (warm-ups excluded). */
  runs: { round: number; variant: string; measurement: Measurement }[];
  /** The same for the delivery variants. */
  deliveryRuns: { round: number; variant: string; measurement: DeliveryMeasurement }[];
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

/** Per label, the median of the rounds' CPU figures; undefined where a round could not read it. */
function medianCpu(rounds: readonly Record<string, number | undefined>[]): Record<string, number | undefined> {
  const labels = new Set(rounds.flatMap((m) => Object.keys(m)));
  const out: Record<string, number | undefined> = {};
  for (const label of labels) {
    const values = rounds.map((m) => m[label]);
    out[label] = values.every((v) => v !== undefined) ? median(values as number[]) : undefined;
  }
  return out;
}

function medianOf(rounds: readonly Measurement[], pick: (m: Measurement) => number | undefined): number {
  return median(rounds.map((m) => pick(m) ?? Number.NaN));
}

/** Per counter, the median over the rounds of its difference per unit of work (a request, an event sent). */
function medianCounters(rounds: readonly { counters: Record<string, number>; units: number }[]): Record<string, number> {
  const keys = new Set(rounds.flatMap((m) => Object.keys(m.counters)));
  const out: Record<string, number> = {};
  for (const key of keys) {
    out[key] = median(rounds.map((m) => (m.counters[key] === undefined || m.units === 0 ? Number.NaN : (m.counters[key] as number) / m.units)));
  }
  return out;
}

function sumCounts(counts: readonly (Record<string, number> | undefined)[]): Record<string, number> | undefined {
  if (counts.every((c) => c === undefined)) return undefined;
  const out: Record<string, number> = {};
  for (const c of counts) for (const [key, n] of Object.entries(c ?? {})) out[key] = (out[key] ?? 0) + n;
  return out;
}

export function summarise(name: string, rounds: readonly Measurement[]): VariantSummary {
  const requests = rounds.reduce((sum, m) => sum + m.requests, 0);
  const refused = rounds.reduce((sum, m) => sum + m.refused, 0);
  const failures = rounds.reduce((sum, m) => sum + m.failures, 0);
  const attempts = requests + rounds.reduce((sum, m) => sum + m.errors, 0);
  const alongsideNames = new Set(rounds.flatMap((m) => Object.keys(m.alongside)));
  const alongside: Record<string, VariantSummary> = {};
  for (const stream of alongsideNames) {
    alongside[stream] = summarise(stream, rounds.flatMap((m) => (m.alongside[stream] ? [m.alongside[stream]] : [])));
  }
  const summary: VariantSummary = {
    name,
    rounds: [...rounds],
    reqPerSec: median(rounds.map((m) => m.reqPerSec)),
    p50Ms: median(rounds.map((m) => m.p50Ms)),
    p95Ms: median(rounds.map((m) => m.p95Ms)),
    p99Ms: median(rounds.map((m) => m.p99Ms)),
    okPerSec: medianOf(rounds, (m) => m.okPerSec),
    refusedP50Ms: medianOf(rounds, (m) => m.refusedP50Ms),
    refusedP99Ms: medianOf(rounds, (m) => m.refusedP99Ms),
    refusedShare: medianOf(rounds, (m) => m.refusedShare),
    cpuMicrosPerRequest: medianCpu(rounds.map((m) => m.cpuMicrosPerRequest)),
    countersPerRequest: medianCounters(rounds.map((m) => ({ counters: m.counters, units: m.requests }))),
    requests,
    timeouts: rounds.reduce((sum, m) => sum + m.timeouts, 0),
    failures,
    errorRate: attempts === 0 ? 1 : failures / attempts,
    refused,
    statusCounts: sumCounts(rounds.map((m) => m.statusCounts)) ?? {},
    alongside,
  };
  if (rounds.some((m) => m.offeredPerSec !== undefined)) summary.offeredPerSec = medianOf(rounds, (m) => m.offeredPerSec);
  const tally = sumCounts(rounds.map((m) => m.tally));
  if (tally) summary.tally = tally;
  return summary;
}

export function summariseDeliveries(name: string, rounds: readonly DeliveryMeasurement[]): DeliverySummary {
  const totals = {} as DeliveryCounts;
  for (const key of DELIVERY_COUNTS) totals[key] = rounds.reduce((sum, m) => sum + m[key], 0);
  const latency = {} as DeliveryLatency;
  for (const key of DELIVERY_LATENCY) latency[key] = median(rounds.map((m) => m[key]));
  const summary: DeliverySummary = {
    name,
    rounds: [...rounds],
    ...totals,
    ...latency,
    deliveriesPerSec: median(rounds.map((m) => m.deliveriesPerSec)),
    sentPerSec: median(rounds.map((m) => m.sentPerSec)),
    cpuMicrosPerDelivery: medianCpu(rounds.map((m) => m.cpuMicrosPerDelivery)),
    countersPerEvent: medianCounters(rounds.map((m) => ({ counters: m.counters, units: m.sent }))),
    errorRate: totals.expected === 0 ? 1 : totals.lost / totals.expected,
  };
  if (rounds.some((m) => m.offeredPerSec !== undefined)) summary.offeredPerSec = median(rounds.map((m) => m.offeredPerSec ?? Number.NaN));
  return summary;
}

async function checkAnswer(name: string, spec: StreamSpec, signal: AbortSignal): Promise<void> {
  const { url, method = 'GET', body, perRequestHeaders } = spec.request;
  const headers = { ...spec.request.headers, ...perRequestHeaders?.() };
  const response = await fetch(url, { method, headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  const text = await response.text();
  if (response.ok || isExpected(spec.expected, response.status, problemCode(text))) return;
  throw new Error(`${name}: ${method} ${url} answered ${response.status} before the load started: ${text.slice(0, 300)}`);
}

async function checkAnswers(variant: RequestVariant, signal: AbortSignal): Promise<void> {
  await checkAnswer(variant.name, variant, signal);
  for (const [stream, spec] of Object.entries(variant.alongside ?? {})) await checkAnswer(`${variant.name} (${stream})`, spec, signal);
}

/** One measurement of a variant (its own stream and those alongside), for `durationS` unless the variant sets its own. */
export function measureVariant(variant: RequestVariant, options: LoadOptions, durationOverrideS?: number): Promise<Measurement> {
  const withDuration = (spec: StreamSpec): StreamSpec => {
    if (durationOverrideS === undefined) return spec;
    const load = spec.load ?? {};
    if (load.kind !== 'open' && load.amount !== undefined) return spec;
    return { ...spec, load: { ...load, durationS: durationOverrideS } };
  };
  const main: StreamSpec = { request: variant.request };
  if (variant.load) main.load = variant.load;
  if (variant.expected) main.expected = variant.expected;
  if (variant.tally) main.tally = variant.tally;
  if (variant.unansweredExpected) main.unansweredExpected = true;
  if (variant.onOk) main.onOk = variant.onOk;
  const alongside: Record<string, StreamSpec> = {};
  for (const [name, spec] of Object.entries(variant.alongside ?? {})) alongside[name] = withDuration(spec);
  return measureStreams(withDuration(main), alongside, options);
}

function describe(m: Measurement): string {
  const cpu = Object.entries(m.cpuMicrosPerRequest)
    .map(([label, us]) => `${label} ${us === undefined ? 'n/a' : Math.round(us)} µs`)
    .join(', ');
  const offered = m.offeredPerSec === undefined ? '' : `offered ${Math.round(m.offeredPerSec)}/s, `;
  const refused = m.refused > 0 ? `, ${m.refused} expected refusals (${(m.refusedShare * 100).toFixed(1)}%, p99 ${m.refusedP99Ms.toFixed(2)} ms)` : '';
  const bad = m.errors + m.non2xx - m.refused > 0 ? `, ${m.errors} errors (${m.timeouts} timeouts), ${m.non2xx - m.refused} unexpected non-2xx` : '';
  const others = Object.entries(m.alongside).map(([name, a]) => `; alongside ${name}: ${describe(a)}`).join('');
  return `${offered}${Math.round(m.reqPerSec)} req/s (2xx ${Math.round(m.okPerSec)}/s), p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms${cpu ? `, CPU/req: ${cpu}` : ''}${refused}${bad}${others}`;
}

function describeDeliveries(m: DeliveryMeasurement): string {
  const cpu = Object.entries(m.cpuMicrosPerDelivery)
    .map(([label, us]) => `${label} ${us === undefined ? 'n/a' : Math.round(us)} µs`)
    .join(', ');
  const extra = [m.duplicates > 0 ? `${m.duplicates} duplicates` : '', m.sendErrors > 0 ? `${m.sendErrors} send errors` : '', m.strays > 0 ? `${m.strays} stray receipts` : ''].filter(Boolean).join(', ');
  return (
    `${m.sent} events (${Number.isFinite(m.sentPerSec) ? `${Math.round(m.sentPerSec)}/s` : 'at once'}), ${m.delivered}/${m.expected} deliveries in ${m.durationS.toFixed(2)} s (${Math.round(m.deliveriesPerSec)}/s), ` +
    `p50 ${m.p50Ms.toFixed(2)} ms, p99 ${m.p99Ms.toFixed(2)} ms, max ${m.maxMs.toFixed(2)} ms${cpu ? `, CPU/delivery: ${cpu}` : ''}${extra ? `, ${extra}` : ''}`
  );
}

function deliveriesOverBudget(scenario: string, variant: string, what: string, m: DeliveryMeasurement, settings: BenchSettings): string[] {
  if (m.sent > 0 && m.errorRate <= settings.maxErrorRate) return [];
  return [
    `${scenario}/${variant} ${what}: ${(m.errorRate * 100).toFixed(3)}% of ${m.expected} deliveries lost (${m.delivered} arrived of ${m.sent} events sent; ${m.sendErrors} send errors) > ${(settings.maxErrorRate * 100).toFixed(1)}%`,
  ];
}

/** One measurement of a delivery variant: prepared (not measured), run with the probes read around it, closed. */
async function measureDeliveryVariant(variant: DeliveryVariant, load: LoadOptions, durationS: number): Promise<DeliveryMeasurement> {
  const batch = await variant.open(durationS, load.signal);
  return measureDeliveries(batch, load.cpu, load.counters ?? []);
}

function overBudget(scenario: string, variant: string, what: string, m: Measurement, settings: BenchSettings): string[] {
  const problems = Object.entries(m.alongside).flatMap(([stream, a]) => overBudget(scenario, `${variant} (${stream})`, what, a, settings));
  if (m.requests > 0 && m.errorRate <= settings.maxErrorRate) return problems;
  const statuses = Object.entries(m.statusCounts).map(([code, n]) => `${code}: ${n}`).join(', ');
  problems.unshift(
    `${scenario}/${variant} ${what}: ${(m.errorRate * 100).toFixed(3)}% failed (${m.errors} errors, ${m.timeouts} timeouts, ${m.non2xx - m.refused} unexpected non-2xx, ${m.refused} expected; ` +
      `answers ${statuses || 'none'}) > ${(settings.maxErrorRate * 100).toFixed(1)}%`,
  );
  return problems;
}

export async function runScenario(scenario: Scenario, settings: BenchSettings, hooks: RunHooks): Promise<ScenarioResult> {
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const group = new ProcessGroup();
  hooks.onGroup(group);
  try {
    hooks.log(`[${scenario.name}] starting processes (1-min load average ${loadBefore.toFixed(2)}${loadBefore >= 1 ? ': other work is competing for the CPUs, expect noise' : ''})`);
    const signal = AbortSignal.any([hooks.signal, group.signal]);
    const prepared = await scenario.prepare({ group, settings, signal, log: (line) => hooks.log(`[${scenario.name}] ${line}`) });
    const load: LoadOptions = { durationS: settings.durationS, connections: settings.connections, cpu: prepared.cpu, counters: prepared.counters ?? [], signal };
    const failures: string[] = [];
    for (const variant of prepared.variants) if (!isDeliveryVariant(variant)) await checkAnswers(variant, signal);
    const log = (what: string, variant: string, text: string): void => hooks.log(`[${scenario.name}] ${what} ${variant}: ${text}`);

    // The gateway's JIT needs 10-20 s of load to settle (its CPU/request falls by a third); less shows as a dearer first round.
    for (const variant of prepared.variants) {
      const warmupS = variant.warmupS ?? settings.warmupS;
      if (!(warmupS > 0)) continue;
      if (isDeliveryVariant(variant)) {
        const m = await measureDeliveryVariant(variant, load, warmupS);
        log('warm-up', variant.name, describeDeliveries(m));
        failures.push(...deliveriesOverBudget(scenario.name, variant.name, 'warm-up', m, settings));
      } else {
        const m = await measureVariant(variant, { ...load, durationS: warmupS }, warmupS);
        log('warm-up', variant.name, describe(m));
        failures.push(...overBudget(scenario.name, variant.name, 'warm-up', m, settings));
        await variant.settle?.(signal, { warmup: true, round: 0 });
      }
      await sleep(SETTLE_MS, undefined, { signal });
    }

    const rounds = new Map<string, Measurement[]>();
    const deliveryRounds = new Map<string, DeliveryMeasurement[]>();
    for (const variant of prepared.variants) (isDeliveryVariant(variant) ? deliveryRounds : rounds).set(variant.name, []);
    const runs: ScenarioResult['runs'] = [];
    const deliveryRuns: ScenarioResult['deliveryRuns'] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      const order = round % 2 === 1 ? prepared.variants : [...prepared.variants].reverse();
      for (const variant of order) {
        const what = `round ${round}/${settings.rounds}`;
        if (isDeliveryVariant(variant)) {
          const m = await measureDeliveryVariant(variant, load, settings.durationS);
          deliveryRounds.get(variant.name)?.push(m);
          deliveryRuns.push({ round, variant: variant.name, measurement: m });
          log(what, variant.name, describeDeliveries(m));
          failures.push(...deliveriesOverBudget(scenario.name, variant.name, `round ${round}`, m, settings));
        } else {
          const m = await measureVariant(variant, load);
          rounds.get(variant.name)?.push(m);
          runs.push({ round, variant: variant.name, measurement: m });
          log(what, variant.name, describe(m));
          failures.push(...overBudget(scenario.name, variant.name, `round ${round}`, m, settings));
          await variant.settle?.(signal, { warmup: false, round });
        }
        await sleep(SETTLE_MS, undefined, { signal });
      }
    }
    group.signal.throwIfAborted();
    const summaries = new Map([...rounds].map(([name, ms]) => [name, summarise(name, ms)]));
    const deliveries = new Map([...deliveryRounds].map(([name, ms]) => [name, summariseDeliveries(name, ms)]));
    for (const problem of prepared.validate?.(summaries, deliveries) ?? []) failures.push(`${scenario.name}: ${problem}`);
    return { scenario, prepared, summaries, deliveries, runs, deliveryRuns, loadBefore, failures };
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
