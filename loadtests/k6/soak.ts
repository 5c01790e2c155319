// soak: the seller mix for a long time (1 h by default) at a moderate rate.
// Proves that nothing degrades with time: no growing latency (the last
// window against the first), no errors appearing, the replica stays ready,
// and quota/cache state does not drift. Each plan's rate is capped so the run
// spends at most half of its daily quota (the free plan's 5,000 units bind).
//
//   k6 run -e BASE_URL=https://gateway.staging.example -e DURATION=4h loadtests/k6/soak.ts
//
// Memory and event-loop lag are not visible from here (the gateway's /metrics
// has no process metrics): watch the replicas' RSS on the platform meanwhile.

import { readyz } from './lib/api.ts';
import { PLANS, RATE_MULTIPLIER, WRITES, envDuration, envNumber } from './lib/config.ts';
import { OPS, seller } from './lib/http.ts';
import { OPERATOR_TOKEN, OPERATOR_TOKEN_SOURCE } from './lib/jwt.ts';
import { mixObjectives, mixRates, seedMix, unitsPerIteration } from './lib/mix.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight } from './lib/setup.ts';
import type { SeededPlans } from './lib/setup.ts';
import { metricValue, ratioCheck, summaryHandler } from './lib/summary.ts';
import type { SummaryData } from './lib/summary.ts';
import { ThresholdSet } from './lib/thresholds.ts';

export { operators, sellerTraffic } from './lib/mix.ts';

const DURATION = envDuration('DURATION', '1h');
const UTILISATION = envNumber('SOAK_UTILISATION', 0.3, { min: 0.01, max: 1 });
/** The first and the last window, compared for drift. */
const WINDOW_SEC = Math.max(60, Math.round(DURATION * 0.1));
if (DURATION < 3 * WINDOW_SEC) throw new Error(`DURATION=${DURATION}s: a soak needs at least ${3 * WINDOW_SEC}s`);
const MAX_DRIFT = envNumber('MAX_DRIFT', 1.25, { min: 1 });
const OPERATOR_RATE = envNumber('OPERATOR_RATE', 0.5, { min: 0.01 }) * RATE_MULTIPLIER;

const rates = mixRates(UTILISATION, DURATION, WRITES);

const windows: Array<{ name: string; startSec: number; durationSec: number }> = [
  { name: 'early', startSec: 0, durationSec: WINDOW_SEC },
  { name: 'main', startSec: WINDOW_SEC, durationSec: DURATION - 2 * WINDOW_SEC },
  { name: 'late', startSec: DURATION - WINDOW_SEC, durationSec: WINDOW_SEC },
];

const scenarios: Record<string, ConstantArrivalRateScenario> = {};
for (const plan of PLANS) {
  for (const w of windows) {
    scenarios[`${plan}_${w.name}`] = constantArrival({
      exec: 'sellerTraffic',
      perSecond: rates[plan],
      durationSec: w.durationSec,
      startSec: w.startSec,
      tags: { window: w.name },
      env: { PLAN: plan },
      typicalLatencySec: 0.3,
      worstLatencySec: 5,
      gracefulStopSec: 5,
    });
  }
}
if (OPERATOR_TOKEN) scenarios.operators = constantArrival({ exec: 'operators', perSecond: OPERATOR_RATE, durationSec: DURATION });
scenarios.readiness = constantArrival({ exec: 'readiness', perSecond: 0.1, durationSec: DURATION });

const EARLY = 'http_req_duration{window:early,kind:read}';
const LATE = 'http_req_duration{window:late,kind:read}';
const t = mixObjectives(new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(OPS));
t.latency('http_req_duration', { window: 'early', kind: 'read' }, 300, 1000);
t.latency('http_req_duration', { window: 'late', kind: 'read' }, 300, 1000);
t.atLeast('facet_ok', { op: 'readyz' }, 0.99);
if (OPERATOR_TOKEN) t.latency('http_req_duration', { op: 'dashboard' }, 250, 1000);

export const options = scriptOptions(scenarios, t, 180);

export function setup(): SeededPlans {
  const checked = preflight(PLANS.map((plan) => ({ seller: seller(plan), unitsPerSec: rates[plan] * unitsPerIteration(WRITES, plan), durationSec: DURATION })));
  const sellers = seedMix(WRITES);
  const notes = checked.notes.slice();
  for (const plan of PLANS) notes.push(`${plan}: ${rates[plan].toFixed(2)} req/s for ${DURATION}s ≈ ${Math.round(rates[plan] * unitsPerIteration(WRITES, plan) * DURATION)} units`);
  notes.push(`operator token: ${OPERATOR_TOKEN_SOURCE}`);
  return { sellers, notes };
}

export function readiness(): void {
  readyz();
}

function derive(data: SummaryData) {
  const early = metricValue(data, EARLY, 'p(95)');
  const late = metricValue(data, LATE, 'p(95)');
  const detail = early !== null && late !== null ? `read p95 ${late.toFixed(1)} ms in the last ${WINDOW_SEC}s vs ${early.toFixed(1)} ms in the first` : '';
  return [ratioCheck('latency drift: read p95 late / early', late, early, MAX_DRIFT, detail)];
}

export const handleSummary = summaryHandler('soak', derive, [
  `${DURATION}s at ${UTILISATION * 100}% of each plan's rate (capped at half its daily quota); windows of ${WINDOW_SEC}s compared`,
]);
