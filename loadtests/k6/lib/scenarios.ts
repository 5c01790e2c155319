// Scenario builders. Every scenario of the suite is open-model: the arrival
// rate is fixed by the test (constant-arrival-rate, ramping-arrival-rate),
// not by how fast the gateway answers, so a slow gateway meets the same
// offered load instead of quietly receiving less of it. When k6 has no free
// VU for an arrival it drops the iteration (metric dropped_iterations): the
// offered load was not met, and every script fails on that.

import type { ConstantArrivalRateScenario, RampingArrivalRateScenario, Scenario, Stage } from 'k6/options';
import { MAX_VUS, dur } from './config.ts';

/** A per-second rate as k6's integer rate + timeUnit (0.5/s → 30 per 1m). */
export function arrival(perSecond: number): { rate: number; timeUnit: string } {
  if (!(perSecond > 0)) throw new Error(`arrival rate must be > 0, got ${perSecond}`);
  if (Number.isInteger(perSecond)) return { rate: perSecond, timeUnit: '1s' };
  if (perSecond * 60 >= 10) return { rate: Math.round(perSecond * 60), timeUnit: '1m' };
  return { rate: Math.max(1, Math.round(perSecond * 3600)), timeUnit: '1h' };
}

/** VUs for a rate: in-flight requests = rate × latency (Little's law), with headroom. */
export function vusFor(perSecond: number, typicalLatencySec: number, worstLatencySec: number): { preAllocatedVUs: number; maxVUs: number } {
  const preAllocatedVUs = Math.min(MAX_VUS, Math.max(2, Math.ceil(perSecond * typicalLatencySec * 2) + 2));
  const maxVUs = Math.min(MAX_VUS, Math.max(preAllocatedVUs, Math.ceil(perSecond * worstLatencySec) + 2));
  return { preAllocatedVUs, maxVUs };
}

export interface ArrivalOptions {
  exec: string;
  /** Iterations per second. */
  perSecond: number;
  durationSec: number;
  startSec?: number;
  tags?: Record<string, string>;
  env?: Record<string, string>;
  /** Typical and worst duration of one iteration, to size the VU pool. */
  typicalLatencySec?: number;
  worstLatencySec?: number;
  gracefulStopSec?: number;
}

export function constantArrival(o: ArrivalOptions): ConstantArrivalRateScenario {
  const scenario: ConstantArrivalRateScenario = {
    executor: 'constant-arrival-rate',
    exec: o.exec,
    ...arrival(o.perSecond),
    duration: dur(o.durationSec),
    ...vusFor(o.perSecond, o.typicalLatencySec ?? 0.2, o.worstLatencySec ?? 2),
    startTime: dur(o.startSec ?? 0),
    gracefulStop: dur(o.gracefulStopSec ?? 10),
  };
  if (o.tags) scenario.tags = o.tags;
  if (o.env) scenario.env = o.env;
  return scenario;
}

export interface RampOptions {
  exec: string;
  /** Per-second targets, each reached linearly over its duration. */
  stages: Array<{ durationSec: number; perSecond: number }>;
  startPerSecond?: number;
  startSec?: number;
  tags?: Record<string, string>;
  env?: Record<string, string>;
  typicalLatencySec?: number;
  worstLatencySec?: number;
  gracefulStopSec?: number;
}

/** ramping-arrival-rate, with all targets per minute so fractional rates keep their precision. */
export function rampingArrival(o: RampOptions): RampingArrivalRateScenario {
  const peak = Math.max(o.startPerSecond ?? 0, ...o.stages.map((s) => s.perSecond));
  const stages: Stage[] = o.stages.map((s) => ({ duration: dur(s.durationSec), target: Math.round(s.perSecond * 60) }));
  const scenario: RampingArrivalRateScenario = {
    executor: 'ramping-arrival-rate',
    exec: o.exec,
    startRate: Math.round((o.startPerSecond ?? 0) * 60),
    timeUnit: '1m',
    stages,
    ...vusFor(peak, o.typicalLatencySec ?? 0.2, o.worstLatencySec ?? 2),
    startTime: dur(o.startSec ?? 0),
    gracefulStop: dur(o.gracefulStopSec ?? 10),
  };
  if (o.tags) scenario.tags = o.tags;
  if (o.env) scenario.env = o.env;
  return scenario;
}

/** One iteration at startSec: a control step (e.g. bring the MES back) inside an arrival-rate timeline. */
export function once(exec: string, startSec: number, tags?: Record<string, string>): ConstantArrivalRateScenario {
  const scenario: ConstantArrivalRateScenario = {
    executor: 'constant-arrival-rate',
    exec,
    rate: 1,
    timeUnit: '1h',
    duration: '1s',
    preAllocatedVUs: 1,
    maxVUs: 1,
    startTime: dur(startSec),
    gracefulStop: '30s',
  };
  if (tags) scenario.tags = tags;
  return scenario;
}

function planned(s: Scenario): number {
  const unitSec = (timeUnit: string | undefined): number => {
    const m = /^(\d+)(ms|s|m|h)$/.exec(timeUnit ?? '1s');
    if (!m) return 1;
    const n = Number(m[1]);
    return m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
  };
  const sec = (d: string): number => Number(/^(\d+)s$/.exec(d)?.[1] ?? 0);
  if (s.executor === 'constant-arrival-rate') return (s.rate * sec(s.duration)) / unitSec(s.timeUnit);
  if (s.executor === 'ramping-arrival-rate') {
    let total = 0;
    let from = s.startRate ?? 0;
    for (const stage of s.stages) {
      total += (((from + stage.target) / 2) * sec(stage.duration)) / unitSec(s.timeUnit);
      from = stage.target;
    }
    return total;
  }
  return 0;
}

/** Iterations the scenarios are meant to start. */
export function plannedIterations(scenarios: Record<string, Scenario>): number {
  let total = 0;
  for (const name in scenarios) total += planned(scenarios[name] as Scenario);
  return Math.round(total);
}

/** When the last scenario ends (startTime + duration), in seconds. */
export function timelineEndSec(scenarios: Record<string, Scenario>): number {
  let end = 0;
  const sec = (d: string | undefined): number => Number(/^(\d+)s$/.exec(d ?? '0s')?.[1] ?? 0);
  for (const name in scenarios) {
    const s = scenarios[name] as Scenario;
    let length = 0;
    if (s.executor === 'constant-arrival-rate') length = sec(s.duration);
    else if (s.executor === 'ramping-arrival-rate') for (const stage of s.stages) length += sec(stage.duration);
    end = Math.max(end, sec(s.startTime) + length);
  }
  return end;
}
