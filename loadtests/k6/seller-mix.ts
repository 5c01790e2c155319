// seller-mix: a normal busy day. Each plan's seller sends the business mix
// of lib/mix.ts (85% reads, 15% writes) at half its plan's rate limit, and
// operators poll the dashboard. Proves that at normal load every seller is
// served within its latency objectives, nobody within their plan is
// throttled, nothing is shed and nothing fails.
//
//   k6 run -e BASE_URL=https://gateway.staging.example loadtests/k6/seller-mix.ts

import { LIMITS, PLANS, RATE_MULTIPLIER, WRITES, envDuration, envNumber } from './lib/config.ts';
import type { Plan } from './lib/config.ts';
import { UNIT_COST } from './lib/api.ts';
import { OPS, seller } from './lib/http.ts';
import { OPERATOR_TOKEN, OPERATOR_TOKEN_SOURCE } from './lib/jwt.ts';
import { mixRate, operatorIteration, sellerIteration, unitsPerIteration } from './lib/mix.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight, seed } from './lib/setup.ts';
import type { SellerSeed } from './lib/setup.ts';
import { summaryHandler } from './lib/summary.ts';
import { ThresholdSet } from './lib/thresholds.ts';

const DURATION = envDuration('DURATION', '10m');
/** Share of each plan's rate limit the seller uses. */
const UTILISATION = envNumber('MIX_UTILISATION', 0.5, { min: 0.01, max: 2 });
/** Dashboard requests per second (5 operators refreshing every 5 s). */
const OPERATOR_RATE = envNumber('OPERATOR_RATE', 1, { min: 0.01 }) * RATE_MULTIPLIER;

const rates = {} as Record<Plan, number>;
for (const plan of PLANS) rates[plan] = mixRate(plan, UTILISATION, DURATION, WRITES);

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

const t = new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(OPS);
for (const plan of PLANS) {
  t.latency('http_req_duration', { seller: plan, kind: 'read' }, 300, 1000);
  // A free seller's 10-unit quote is twice its per-second rate: its burst is all that absorbs one.
  t.below('facet_quota_429', { seller: plan }, LIMITS[plan].tier === 'free' ? 0.01 : 0.005);
  // Answered as the contract says (409 not cancellable and 429 price-jobs limit are business answers).
  t.add(`checks{seller:${plan}}`, 'rate>0.99');
}
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
t.below('facet_shed', {}, 0.001);
t.below('facet_503', {}, 0.005);

export const options = {
  scenarios,
  thresholds: t.thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'],
  setupTimeout: '180s',
};

interface Data {
  sellers: Record<string, SellerSeed>;
  notes: string[];
}

export function setup(): Data {
  const setupUnits = 4 + (WRITES ? UNIT_COST.uploadModel + UNIT_COST.createQuote : 0);
  const checked = preflight(
    PLANS.map((plan) => ({ seller: seller(plan), unitsPerSec: rates[plan] * unitsPerIteration(WRITES, plan) + setupUnits / DURATION, durationSec: DURATION })),
  );
  const sellers: Record<string, SellerSeed> = {};
  for (const plan of PLANS) sellers[plan] = seed(seller(plan), { orderPages: 2, model: WRITES, quote: WRITES && LIMITS[plan].tier !== 'free' });
  const notes = checked.notes.slice();
  for (const plan of PLANS) {
    notes.push(`${plan}: ${rates[plan].toFixed(2)} req/s ≈ ${(rates[plan] * unitsPerIteration(WRITES, plan)).toFixed(1)} units/s of its ${plan} plan; quote ${sellers[plan]?.quoteId ? 'ready' : 'not ready (orders from model_id)'}`);
  }
  notes.push(`operator token: ${OPERATOR_TOKEN_SOURCE}`);
  return { sellers, notes };
}

export function sellerTraffic(data: Data): void {
  const plan = (__ENV.PLAN ?? 'standard') as Plan;
  sellerIteration(seller(plan), data.sellers[plan], WRITES);
}

export function operators(): void {
  operatorIteration(OPERATOR_TOKEN);
}

export const handleSummary = summaryHandler('seller-mix', undefined, [
  `mix at ${UTILISATION * 100}% of each plan's rate for ${DURATION}s; writes ${WRITES ? 'on' : 'off'}; operators ${OPERATOR_TOKEN ? `${OPERATOR_RATE}/s` : 'off'}`,
]);
