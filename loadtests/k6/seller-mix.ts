// seller-mix: a normal busy day. Each plan's seller sends the business mix
// of lib/mix.ts (85% reads, 15% writes) at half its plan's rate limit, and
// operators poll the dashboard. Proves that at normal load every seller is
// served within its latency objectives, nobody within their plan is
// throttled, nothing is shed and nothing fails.
//
//   k6 run -e BASE_URL=https://gateway.staging.example loadtests/k6/seller-mix.ts

import { PLANS, RATE_MULTIPLIER, WRITES, envDuration, envNumber } from './lib/config.ts';
import { UNIT_COST } from './lib/api.ts';
import { OPS, seller } from './lib/http.ts';
import { OPERATOR_TOKEN, OPERATOR_TOKEN_SOURCE } from './lib/jwt.ts';
import { mixObjectives, mixRates, seedMix, unitsPerIteration } from './lib/mix.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight } from './lib/setup.ts';
import type { SeededPlans } from './lib/setup.ts';
import { summaryHandler } from './lib/summary.ts';
import { ThresholdSet } from './lib/thresholds.ts';

export { operators, sellerTraffic } from './lib/mix.ts';

const DURATION = envDuration('DURATION', '10m');
/** Share of each plan's rate limit the seller uses. */
const UTILISATION = envNumber('MIX_UTILISATION', 0.5, { min: 0.01, max: 2 });
/** Dashboard requests per second (5 operators refreshing every 5 s). */
const OPERATOR_RATE = envNumber('OPERATOR_RATE', 1, { min: 0.01 }) * RATE_MULTIPLIER;

const rates = mixRates(UTILISATION, DURATION, WRITES);

const scenarios: Record<string, ConstantArrivalRateScenario> = {};
for (const plan of PLANS) {
  scenarios[`seller_${plan}`] = constantArrival({
    exec: 'sellerTraffic',
    perSecond: rates[plan],
    durationSec: DURATION,
    env: { PLAN: plan },
    typicalLatencySec: 0.3,
    worstLatencySec: 5,
  });
}
if (OPERATOR_TOKEN) scenarios.operators = constantArrival({ exec: 'operators', perSecond: OPERATOR_RATE, durationSec: DURATION });

const t = mixObjectives(new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(OPS));
if (WRITES) {
  t.latency('http_req_duration', { op: 'uploadModel' }, 2000, 5000);
  t.latency('http_req_duration', { op: 'createQuote' }, 1000, 3000);
  t.latency('http_req_duration', { op: 'createOrder' }, 1000, 3000);
  t.latency('http_req_duration', { op: 'cancelOrder' }, 1000, 3000);
  t.atLeast('facet_ok', { op: 'createOrder' }, 0.99);
}
if (OPERATOR_TOKEN) {
  t.latency('http_req_duration', { op: 'dashboard' }, 250, 1000);
  t.atLeast('facet_ok', { op: 'dashboard' }, 0.999);
}

export const options = scriptOptions(scenarios, t, 180);

export function setup(): SeededPlans {
  const setupUnits = 4 + (WRITES ? UNIT_COST.uploadModel + UNIT_COST.createQuote : 0);
  const checked = preflight(
    PLANS.map((plan) => ({ seller: seller(plan), unitsPerSec: rates[plan] * unitsPerIteration(WRITES, plan) + setupUnits / DURATION, durationSec: DURATION })),
  );
  const sellers = seedMix(WRITES);
  const notes = checked.notes.slice();
  for (const plan of PLANS) {
    notes.push(`${plan}: ${rates[plan].toFixed(2)} req/s ≈ ${(rates[plan] * unitsPerIteration(WRITES, plan)).toFixed(1)} units/s of its ${plan} plan; quote ${sellers[plan]?.quoteId ? 'ready' : 'not ready (orders from model_id)'}`);
  }
  notes.push(`operator token: ${OPERATOR_TOKEN_SOURCE}`);
  return { sellers, notes };
}

export const handleSummary = summaryHandler('seller-mix', undefined, [
  `mix at ${UTILISATION * 100}% of each plan's rate for ${DURATION}s; writes ${WRITES ? 'on' : 'off'}; operators ${OPERATOR_TOKEN ? `${OPERATOR_RATE}/s` : 'off'}`,
]);
