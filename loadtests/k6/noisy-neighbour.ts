// noisy-neighbour: one seller at 20× its limit must not hurt another.
//
//   solo        the victim alone at its normal rate    → its baseline p99
//   contended   the victim at the same rate, while the noisy seller sends
//               20× its plan's rate limit
//
// Criteria (issue "quotas"): the victim's p99 while contended stays within
// 20% of its solo baseline; the victim is never throttled; the noisy seller
// is held to its limit (429, fast, admitted work ≤ its plan) without errors.
//
// The 20% criterion compares two measurements of this run: the summary
// computes it (derived check, "ok" in the JSON). To make it a k6 threshold
// too, pass the baseline of an earlier run: -e BASELINE_P99_MS=42.
//
//   k6 run -e BASE_URL=https://gateway.staging.example loadtests/k6/noisy-neighbour.ts

import { getOrder, listOrders } from './lib/api.ts';
import { KEYS, LIMITS, PLANS, RATE_MULTIPLIER, env, envDuration, envNumber } from './lib/config.ts';
import type { Plan } from './lib/config.ts';
import { pick } from './lib/data.ts';
import { seller } from './lib/http.ts';
import type { Op, Seller } from './lib/http.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import { preflight, seed } from './lib/setup.ts';
import type { SellerSeed } from './lib/setup.ts';
import { metricValue, ratioCheck, summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';
import { ThresholdSet, ms } from './lib/thresholds.ts';

function planFrom(name: string, fallback: Plan): Plan {
  const value = env(name, fallback);
  if ((PLANS as readonly string[]).indexOf(value) === -1) throw new Error(`${name}=${value}: one of ${PLANS.join(', ')}`);
  return value as Plan;
}

const NOISY_PLAN = planFrom('NOISY_PLAN', 'standard');
const VICTIM_PLAN = planFrom('VICTIM_PLAN', 'enterprise');
const NOISY: Seller = seller(NOISY_PLAN, env('NOISY_KEY', KEYS[NOISY_PLAN]), 'noisy');
const VICTIM: Seller = seller(VICTIM_PLAN, env('VICTIM_KEY', KEYS[VICTIM_PLAN]), 'victim');
if (NOISY.key === VICTIM.key) throw new Error('the noisy seller and the victim must be two sellers (NOISY_KEY, VICTIM_KEY)');

const NOISY_FACTOR = envNumber('NOISY_FACTOR', 20, { min: 1 });
const VICTIM_UTILISATION = envNumber('VICTIM_UTILISATION', 0.5, { min: 0.01, max: 0.9 });
const PHASE_SEC = envDuration('PHASE_DURATION', '2m');
const GAP_SEC = 10;
const BASELINE_P99_MS = envNumber('BASELINE_P99_MS', 0, { min: 0 });
const MAX_RATIO = envNumber('MAX_P99_RATIO', 1.2, { min: 1 });
const VICTIM_P99_MS = envNumber('VICTIM_P99_MS', 300, { min: 1 });

const victimRate = LIMITS[VICTIM_PLAN].perSecond * VICTIM_UTILISATION * RATE_MULTIPLIER;
const noisyRate = LIMITS[NOISY_PLAN].perSecond * NOISY_FACTOR;

const scenarios = {
  victim_solo: constantArrival({ exec: 'victim', perSecond: victimRate, durationSec: PHASE_SEC, tags: { phase: 'solo' } }),
  victim_contended: constantArrival({ exec: 'victim', perSecond: victimRate, durationSec: PHASE_SEC, startSec: PHASE_SEC + GAP_SEC, tags: { phase: 'contended' } }),
  noisy: constantArrival({ exec: 'noisy', perSecond: noisyRate, durationSec: PHASE_SEC, startSec: PHASE_SEC + GAP_SEC, tags: { phase: 'contended' }, typicalLatencySec: 0.05 }),
};

const CONTENDED = 'http_req_duration{seller:victim,phase:contended}';
const SOLO = 'http_req_duration{seller:victim,phase:solo}';
const OPS_USED: Op[] = ['listOrders', 'getOrder'];
const t = new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(OPS_USED);
t.add(SOLO, `p(99)<${ms(VICTIM_P99_MS)}`);
t.add(CONTENDED, `p(99)<${BASELINE_P99_MS > 0 ? Math.round(BASELINE_P99_MS * MAX_RATIO * 10) / 10 : ms(VICTIM_P99_MS)}`);
t.below('facet_429', { seller: 'victim' }, 0.001);
t.atLeast('facet_ok', { seller: 'victim' }, 0.999);
t.atLeast('facet_quota_429', { seller: 'noisy' }, Math.min(0.8, 1 - 2 / NOISY_FACTOR));
t.add('facet_goodput{seller:noisy}', `count<=${Math.ceil((LIMITS[NOISY_PLAN].perSecond * (PHASE_SEC + 2) + 2 * LIMITS[NOISY_PLAN].burst) * 1.1)}`);
t.add('facet_reject_duration{seller:noisy}', `p(99)<${ms(100)}`);

export const options = scriptOptions(scenarios, t, 120);

interface Data {
  victim: SellerSeed;
  noisy: SellerSeed;
  notes: string[];
}

export function setup(): Data {
  const checked = preflight([
    { seller: VICTIM, unitsPerSec: victimRate, durationSec: 2 * PHASE_SEC + GAP_SEC },
    // Refused requests do not count against the daily quota: the noisy seller spends about its rate.
    { seller: NOISY, unitsPerSec: LIMITS[NOISY_PLAN].perSecond, durationSec: PHASE_SEC },
  ]);
  const notes = checked.notes.slice();
  notes.push(`victim: ${VICTIM_PLAN} at ${victimRate.toFixed(1)} req/s; noisy: ${NOISY_PLAN} at ${noisyRate.toFixed(0)} req/s (${NOISY_FACTOR}× its limit)`);
  if (BASELINE_P99_MS <= 0) notes.push(`no BASELINE_P99_MS: the contended p99 threshold is the absolute ${ms(VICTIM_P99_MS)} ms; the ${MAX_RATIO}× criterion is a derived check`);
  return { victim: seed(VICTIM), noisy: seed(NOISY), notes };
}

function read(who: Seller, data: SellerSeed, alsoExpect: number[]): void {
  const id = Math.random() < 0.5 ? pick(data.orderIds) : undefined;
  if (id) getOrder(who, id, { alsoExpect });
  else listOrders(who, 'limit=20', { alsoExpect });
}

export function victim(data: Data): void {
  read(VICTIM, data.victim, []);
}

export function noisy(data: Data): void {
  read(NOISY, data.noisy, [429]);
}

function derive(data: SummaryData) {
  const contended = metricValue(data, CONTENDED, 'p(99)');
  const solo = metricValue(data, SOLO, 'p(99)');
  const detail = contended !== null && solo !== null ? `p99 ${contended.toFixed(1)} ms contended vs ${solo.toFixed(1)} ms solo` : '';
  return [ratioCheck('victim p99 contended / solo', contended, solo, MAX_RATIO, detail)];
}

export const handleSummary = summaryHandler('noisy-neighbour', derive);
