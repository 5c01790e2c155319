// burst: the plans' burst allowance and rate limit, as a seller sees them.
// For each plan, at the same time (each seller has its own quota):
//
//   warm      half the plan's rate                     no 429
//   within    a 5 s spike above the rate that fits in  no 429: the burst absorbs it
//             half the plan's burst
//   quiet     half the rate for a burst window + 5 s   no 429 (the burst refills)
//   over      3× the rate for 10 s                     429 FACET_ERR_QUOTA_EXCEEDED, fast, with
//                                                      Retry-After; admitted work ≤ rate × time + burst
//   recovery  half the rate again                      no 429: the seller is back at once
//
// The admitted-work ceiling holds across gateway replicas (quotas are shared
// through Redis), so run it through the load balancer.
//
//   k6 run -e BASE_URL=https://gateway.staging.example loadtests/k6/burst.ts

import { getOrder, listOrders } from './lib/api.ts';
import { LIMITS, PLANS, env, envNumber } from './lib/config.ts';
import type { Plan } from './lib/config.ts';
import { pick } from './lib/data.ts';
import { seller } from './lib/http.ts';
import type { Op } from './lib/http.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight, seedPlans } from './lib/setup.ts';
import type { SeededPlans } from './lib/setup.ts';
import { summaryHandler } from './lib/summary.ts';
import { ThresholdSet, ms } from './lib/thresholds.ts';

const BURST_PLANS = env('BURST_PLANS', PLANS.join(','))
  .split(',')
  .map((p) => p.trim())
  .filter((p): p is Plan => (PLANS as readonly string[]).indexOf(p) !== -1);
if (BURST_PLANS.length === 0) throw new Error('BURST_PLANS names no plan (free, standard, enterprise)');

const OVER_FACTOR = envNumber('OVER_FACTOR', 3, { min: 1.5 });
const WARM_SEC = 20;
const SPIKE_SEC = 5;
const OVER_SEC = 10;
const GAP_SEC = 2;
const RECOVERY_SEC = 30;

interface Phase {
  name: 'warm' | 'within' | 'quiet' | 'over' | 'recovery';
  startSec: number;
  durationSec: number;
  perSecond: number;
}

function phases(plan: Plan): Phase[] {
  const l = LIMITS[plan];
  const half = l.perSecond / 2;
  const quietSec = l.burstWindowSec + 5;
  const out: Phase[] = [];
  let at = 0;
  const push = (name: Phase['name'], durationSec: number, perSecond: number, gapAfter = 0): void => {
    out.push({ name, startSec: at, durationSec, perSecond });
    at += durationSec + gapAfter;
  };
  push('warm', WARM_SEC, half);
  push('within', SPIKE_SEC, l.perSecond + (0.5 * l.burst) / SPIKE_SEC);
  push('quiet', quietSec, half);
  push('over', OVER_SEC, OVER_FACTOR * l.perSecond, GAP_SEC);
  push('recovery', RECOVERY_SEC, half);
  return out;
}

const scenarios: Record<string, ConstantArrivalRateScenario> = {};
for (const plan of BURST_PLANS) {
  for (const p of phases(plan)) {
    scenarios[`${plan}_${p.name}`] = constantArrival({
      exec: 'burstTraffic',
      perSecond: p.perSecond,
      durationSec: p.durationSec,
      startSec: p.startSec,
      tags: { phase: p.name },
      env: { PLAN: plan },
      gracefulStopSec: 5,
    });
  }
}

const OPS_USED: Op[] = ['listOrders', 'getOrder'];
const t = new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(OPS_USED);
for (const plan of BURST_PLANS) {
  const l = LIMITS[plan];
  for (const phase of ['warm', 'within', 'quiet', 'recovery']) t.below('facet_429', { seller: plan, phase }, 0.01);
  t.atLeast('facet_quota_429', { seller: plan, phase: 'over' }, 0.3);
  // Fixed windows may admit a rate window and a burst window on each side of a boundary: hence the margins.
  const ceiling = Math.ceil((l.perSecond * (OVER_SEC + GAP_SEC) + 2 * l.burst) * 1.1);
  t.add(`facet_goodput{seller:${plan},phase:over}`, `count<=${ceiling}`);
  t.add(`facet_reject_duration{seller:${plan},phase:over}`, `p(99)<${ms(100)}`);
  t.add(`facet_ok_duration{seller:${plan},phase:over}`, `p(99)<${ms(1000)}`);
  t.latency('http_req_duration', { seller: plan, phase: 'warm' }, 300, 1000);
}

export const options = scriptOptions(scenarios, t, 120);

export function setup(): SeededPlans {
  const checked = preflight(
    BURST_PLANS.map((plan) => {
      const units = phases(plan).reduce((sum, p) => sum + p.perSecond * p.durationSec, 0);
      const total = phases(plan).reduce((sum, p) => Math.max(sum, p.startSec + p.durationSec), 0);
      return { seller: seller(plan), unitsPerSec: units / total, durationSec: total };
    }),
  );
  const sellers = seedPlans(BURST_PLANS);
  const notes = checked.notes.slice();
  for (const plan of BURST_PLANS) {
    notes.push(`${plan}: ${phases(plan).map((p) => `${p.name} ${p.perSecond.toFixed(1)}/s×${p.durationSec}s`).join(', ')}`);
  }
  return { sellers, notes };
}

export function burstTraffic(data: SeededPlans): void {
  const plan = (__ENV.PLAN ?? 'standard') as Plan;
  const who = seller(plan);
  const options = { alsoExpect: [429] };
  const id = Math.random() < 0.5 ? pick(data.sellers[plan]?.orderIds ?? []) : undefined;
  if (id) getOrder(who, id, options);
  else listOrders(who, 'limit=20', options);
}

export const handleSummary = summaryHandler('burst', undefined, [
  `plans ${BURST_PLANS.join(', ')}; over = ${OVER_FACTOR}× the rate for ${OVER_SEC}s; admitted-work ceiling = (rate × ${OVER_SEC + GAP_SEC}s + 2 × burst) × 1.1`,
]);
