// overload: offered load at 5× the gateway's measured capacity. Load shedding
// must keep the gateway useful: it refuses the excess at once (503
// FACET_ERR_OVERLOADED, free reads first) and keeps serving close to its
// capacity at a bounded latency; operators are never shed.
//
//   unloaded   UNLOADED_SHARE × capacity for 1m        → unloaded p99 of admitted reads
//   overload   OVERLOAD_FACTOR (5) × capacity for 2m   → goodput ≥ 90% of capacity,
//                                                          admitted p99 ≤ 3× unloaded p99
//   operators  the dashboard, 1/s throughout            → never shed
//
// CAPACITY_RPS is required: the highest rate of this request mix the gateway
// serves without refusing or slowing down. Measure it with MODE=calibrate
// (steps of increasing rate; the summary names the capacity).
//
// Quotas must be out of reach, or they answer 429 before shedding is ever
// needed: OVERLOAD_PAID_KEY and OVERLOAD_FREE_KEY name load-test sellers
// (a paid and a free plan) whose limits are raised (consumers[].overrides,
// see README). setup() stops the run when their limits are too low.
//
//   k6 run -e BASE_URL=... -e CAPACITY_RPS=1500 -e OVERLOAD_PAID_KEY=... -e OVERLOAD_FREE_KEY=... loadtests/k6/overload.ts
//   k6 run -e BASE_URL=... -e MODE=calibrate -e CAL_TO=3000 ... loadtests/k6/overload.ts

import { listOrders } from './lib/api.ts';
import { KEYS, RATE_MULTIPLIER, env, envDuration, envNumber } from './lib/config.ts';
import { seller } from './lib/http.ts';
import type { Op, Seller } from './lib/http.ts';
import { OPERATOR_TOKEN, OPERATOR_TOKEN_SOURCE } from './lib/jwt.ts';
import { operatorIteration } from './lib/mix.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations, timelineEndSec } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight } from './lib/setup.ts';
import { metricValue, ratioCheck, sampleCount, summaryHandler } from './lib/summary.ts';
import type { DerivedCheck, SummaryData } from './lib/summary.ts';
import { ThresholdSet, ms } from './lib/thresholds.ts';

const MODE = env('MODE', 'overload');
if (MODE !== 'overload' && MODE !== 'calibrate') throw new Error(`MODE=${MODE}: overload or calibrate`);

const PAID: Seller = seller('enterprise', env('OVERLOAD_PAID_KEY', KEYS.enterprise), 'overload-paid');
const FREE: Seller = seller('free', env('OVERLOAD_FREE_KEY', KEYS.free), 'overload-free');
const FREE_SHARE = envNumber('FREE_SHARE', 0.3, { min: 0, max: 1 });
const OPERATOR_RATE = envNumber('OPERATOR_RATE', 1, { min: 0.01 }) * RATE_MULTIPLIER;

// overload mode
const CAPACITY_RPS = envNumber('CAPACITY_RPS', 0, { min: 0 });
if (MODE === 'overload' && !(CAPACITY_RPS > 0)) throw new Error('CAPACITY_RPS is required (requests/s this mix is served at without refusals; measure it with -e MODE=calibrate)');
const FACTOR = envNumber('OVERLOAD_FACTOR', 5, { min: 1.5 });
const UNLOADED_SHARE = envNumber('UNLOADED_SHARE', 0.2, { min: 0.01, max: 0.9 });
const UNLOADED_SEC = envDuration('UNLOADED_DURATION', '1m');
const OVERLOAD_SEC = envDuration('OVERLOAD_DURATION', '2m');
const GAP_SEC = 15;
const UNLOADED_P99_MS = envNumber('UNLOADED_P99_MS', 0, { min: 0 });
const MAX_P99_RATIO = envNumber('MAX_P99_RATIO', 3, { min: 1 });
const OVERLOAD_P99_MS = envNumber('OVERLOAD_P99_MS', 1000, { min: 1 });
const REJECT_P99_MS = envNumber('REJECT_P99_MS', 250, { min: 1 });
const MIN_GOODPUT = envNumber('MIN_GOODPUT', 0.9, { min: 0, max: 1 });

// calibrate mode
const CAL_FROM = envNumber('CAL_FROM', 50, { min: 1 });
const CAL_TO = envNumber('CAL_TO', 2000, { min: 1 });
const CAL_STEPS = Math.round(envNumber('CAL_STEPS', 8, { min: 2, max: 30 }));
const CAL_STEP_SEC = envDuration('CAL_STEP_DURATION', '30s');
const CAL_P99_MS = envNumber('CAL_P99_MS', 0, { min: 0 });

const OPS_USED: Op[] = ['listOrders', 'dashboard'];
const scenarios: Record<string, ConstantArrivalRateScenario> = {};
const t = new ThresholdSet();
const calSteps: Array<{ tag: string; perSecond: number }> = [];

function traffic(name: string, perSecond: number, startSec: number, durationSec: number, tags: Record<string, string>): void {
  const free = perSecond * FREE_SHARE;
  const paid = perSecond - free;
  // Worst latency sized for a gateway that queues instead of shedding: a 10 s backlog.
  if (paid > 0) scenarios[`${name}_paid`] = constantArrival({ exec: 'paidRead', perSecond: paid, startSec, durationSec, tags, typicalLatencySec: 0.1, worstLatencySec: 10 });
  if (free > 0) scenarios[`${name}_free`] = constantArrival({ exec: 'freeRead', perSecond: free, startSec, durationSec, tags, typicalLatencySec: 0.1, worstLatencySec: 10 });
}

if (MODE === 'overload') {
  traffic('unloaded', CAPACITY_RPS * UNLOADED_SHARE, 0, UNLOADED_SEC, { phase: 'unloaded' });
  traffic('overload', CAPACITY_RPS * FACTOR, UNLOADED_SEC + GAP_SEC, OVERLOAD_SEC, { phase: 'overload' });
} else {
  let at = 0;
  for (let i = 0; i < CAL_STEPS; i += 1) {
    const perSecond = CAL_FROM + ((CAL_TO - CAL_FROM) * i) / (CAL_STEPS - 1);
    const tag = `s${i + 1}`;
    calSteps.push({ tag, perSecond });
    traffic(`step_${tag}`, perSecond, at, CAL_STEP_SEC, { step: tag });
    at += CAL_STEP_SEC + 5;
  }
}
if (OPERATOR_TOKEN) scenarios.operators = constantArrival({ exec: 'operators', perSecond: OPERATOR_RATE, durationSec: timelineEndSec(scenarios) });

t.baseline(plannedIterations(scenarios), { serverErrors: 0.01, dropped: MODE === 'overload' }).breakdowns(OPS_USED);
if (MODE === 'overload') {
  const overload = { phase: 'overload' };
  t.atLeast('facet_ok', { phase: 'unloaded' }, 0.999);
  t.trendReport('facet_ok_duration', { phase: 'unloaded' });
  t.counterReport('facet_goodput', overload);
  // Goodput ≥ 90% of capacity, as a share of the offered 5× capacity (dropped_iterations proves the load was offered).
  t.atLeast('facet_ok', overload, Math.round((MIN_GOODPUT / FACTOR) * 10000) / 10000);
  t.add('facet_ok_duration{phase:overload}', `p(99)<${UNLOADED_P99_MS > 0 ? Math.round(UNLOADED_P99_MS * MAX_P99_RATIO * 10) / 10 : ms(OVERLOAD_P99_MS)}`);
  // The excess really was refused (a CAPACITY_RPS far too low shows here), quickly, by shedding rather than quota.
  t.atLeast('facet_503', overload, Math.round((1 - 1 / FACTOR) * 0.6 * 100) / 100);
  t.add('facet_reject_duration{phase:overload}', `p(99)<${ms(REJECT_P99_MS)}`);
  t.below('facet_quota_429', overload, 0.01);
  t.rateReport('facet_shed', { phase: 'overload', class: 'free-read' });
  t.rateReport('facet_shed', { phase: 'overload', class: 'paid-read' });
} else {
  for (const step of calSteps) {
    t.rateReport('facet_ok', { step: step.tag });
    t.trendReport('facet_ok_duration', { step: step.tag });
    t.counterReport('facet_goodput', { step: step.tag });
    // dropped_iterations carries the scenario's name, not its tags.
    for (const name in scenarios) if (name.indexOf(`step_${step.tag}_`) === 0) t.counterReport('dropped_iterations', { scenario: name });
  }
}
if (OPERATOR_TOKEN) {
  t.below('facet_shed', { kind: 'operator' }, 0.001);
  t.atLeast('facet_ok', { kind: 'operator' }, 0.999);
  t.latency('http_req_duration', { kind: 'operator' }, 250, 1000);
}

export const options = scriptOptions(scenarios, t, 60, {
  // Many VUs, one connection each: keep-alive as a real client population.
  noVUConnectionReuse: false,
});

interface Data {
  notes: string[];
}

export function setup(): Data {
  const peak = MODE === 'overload' ? CAPACITY_RPS * FACTOR : CAL_TO;
  const duration = MODE === 'overload' ? UNLOADED_SEC + OVERLOAD_SEC : CAL_STEPS * CAL_STEP_SEC;
  // Admitted work is at most about capacity: that is what the daily quotas pay for.
  const admitted = MODE === 'overload' ? CAPACITY_RPS : CAL_TO;
  const checked = preflight([
    { seller: PAID, unitsPerSec: admitted * (1 - FREE_SHARE), durationSec: duration, checkPlan: false, minRatePerSecond: peak * (1 - FREE_SHARE) },
    ...(FREE_SHARE > 0 ? [{ seller: FREE, unitsPerSec: admitted * FREE_SHARE, durationSec: duration, checkPlan: false, minRatePerSecond: peak * FREE_SHARE }] : []),
  ]);
  const notes = checked.notes.slice();
  notes.push(`reads: GET /v1/orders with a unique created_to each (cache misses: every admitted read is an upstream call); free-tier share ${FREE_SHARE}`);
  notes.push(`operator token: ${OPERATOR_TOKEN_SOURCE}`);
  return { notes };
}

// A unique created_to: a new cache key every time, so each read takes an upstream slot.
function uncachedQuery(): string {
  const to = new Date(Date.now() - Math.floor(Math.random() * 90 * 24 * 3600 * 1000)).toISOString();
  return `limit=10&created_to=${to}`;
}

const ACCEPT_SHED = { alsoExpect: [503] };

export function paidRead(): void {
  listOrders(PAID, uncachedQuery(), ACCEPT_SHED);
}

export function freeRead(): void {
  listOrders(FREE, uncachedQuery(), ACCEPT_SHED);
}

export function operators(): void {
  operatorIteration(OPERATOR_TOKEN);
}

function deriveOverload(data: SummaryData): DerivedCheck[] {
  const goodput = metricValue(data, 'facet_goodput{phase:overload}', 'count');
  const perSecond = goodput === null ? null : goodput / OVERLOAD_SEC;
  const goodputCheck: DerivedCheck = {
    name: 'goodput under overload / capacity',
    value: perSecond === null ? null : perSecond / CAPACITY_RPS,
    limit: `>= ${MIN_GOODPUT}`,
    ok: perSecond === null ? null : perSecond / CAPACITY_RPS >= MIN_GOODPUT,
    detail: perSecond === null ? 'no data' : `${perSecond.toFixed(0)} req/s served of ${CAPACITY_RPS} capacity, ${(CAPACITY_RPS * FACTOR).toFixed(0)} offered`,
  };
  const loaded = metricValue(data, 'facet_ok_duration{phase:overload}', 'p(99)');
  const unloaded = metricValue(data, 'facet_ok_duration{phase:unloaded}', 'p(99)');
  const latencyCheck = ratioCheck(
    'admitted p99 overload / unloaded',
    loaded,
    UNLOADED_P99_MS > 0 ? UNLOADED_P99_MS : unloaded,
    MAX_P99_RATIO,
    loaded !== null && unloaded !== null ? `${loaded.toFixed(1)} ms vs ${(UNLOADED_P99_MS || unloaded).toFixed(1)} ms unloaded${UNLOADED_P99_MS ? ' (UNLOADED_P99_MS)' : ''}` : '',
  );
  const shedFree = metricValue(data, 'facet_shed{phase:overload,class:free-read}', 'rate');
  const shedPaid = metricValue(data, 'facet_shed{phase:overload,class:paid-read}', 'rate');
  const order: DerivedCheck = {
    name: 'free reads shed at least as much as paid reads',
    value: shedFree !== null && shedPaid !== null ? shedFree - shedPaid : null,
    limit: '>= 0',
    ok: FREE_SHARE === 0 || shedFree === null || shedPaid === null ? null : shedFree >= shedPaid,
    detail: shedFree !== null && shedPaid !== null ? `free ${(shedFree * 100).toFixed(1)}% vs paid ${(shedPaid * 100).toFixed(1)}% shed` : '',
  };
  return [goodputCheck, latencyCheck, order];
}

function deriveCalibration(data: SummaryData): DerivedCheck[] {
  const first = calSteps[0];
  const firstP99 = first ? metricValue(data, `facet_ok_duration{step:${first.tag}}`, 'p(99)') : null;
  const p99Limit = CAL_P99_MS > 0 ? CAL_P99_MS : firstP99 === null ? null : firstP99 * 3;
  let capacity: number | null = null;
  const rows: string[] = [];
  for (const step of calSteps) {
    const ok = metricValue(data, `facet_ok{step:${step.tag}}`, 'rate');
    const p99 = metricValue(data, `facet_ok_duration{step:${step.tag}}`, 'p(99)');
    const served = metricValue(data, `facet_goodput{step:${step.tag}}`, 'count');
    let dropped = 0;
    for (const name in scenarios) if (name.indexOf(`step_${step.tag}_`) === 0) dropped += metricValue(data, `dropped_iterations{scenario:${name}}`, 'count') ?? 0;
    const offered = step.perSecond * CAL_STEP_SEC;
    const healthy = ok !== null && ok >= 0.999 && p99 !== null && p99Limit !== null && p99 <= p99Limit && dropped <= offered * 0.01 && sampleCount(data, `facet_ok{step:${step.tag}}`) > 0;
    if (healthy) capacity = step.perSecond;
    rows.push(`${step.perSecond.toFixed(0)}/s: ok ${ok === null ? '-' : (ok * 100).toFixed(2)}% p99 ${p99 === null ? '-' : p99.toFixed(1)}ms served ${served === null ? '-' : (served / CAL_STEP_SEC).toFixed(0)}/s${healthy ? '' : ' ✗'}`);
  }
  return [
    {
      name: 'capacity (highest step served entirely, p99 within limit, nothing dropped): CAPACITY_RPS',
      value: capacity,
      limit: p99Limit === null ? '' : `p99 <= ${p99Limit.toFixed(1)} ms`,
      ok: null,
      detail: rows.join('; '),
    },
  ];
}

export const handleSummary = summaryHandler(MODE === 'overload' ? 'overload' : 'overload-calibrate', MODE === 'overload' ? deriveOverload : deriveCalibration, [
  MODE === 'overload'
    ? `capacity ${CAPACITY_RPS} req/s; unloaded ${(CAPACITY_RPS * UNLOADED_SHARE).toFixed(0)}/s for ${UNLOADED_SEC}s, overload ${(CAPACITY_RPS * FACTOR).toFixed(0)}/s for ${OVERLOAD_SEC}s`
    : `calibration: ${CAL_STEPS} steps from ${CAL_FROM} to ${CAL_TO} req/s, ${CAL_STEP_SEC}s each`,
]);
