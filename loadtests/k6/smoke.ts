// smoke: is this deployment up and is every operation wired? A low constant
// arrival rate walks round-robin through every operation, for every plan,
// plus the operators' dashboard and the health endpoints; each must answer
// as the contract says. One minute; run it first, after every deploy.
//
//   k6 run -e BASE_URL=https://gateway.staging.example loadtests/k6/smoke.ts

import exec from 'k6/execution';
import { cancelOrder, createOrder, createQuote, dashboard, getOrder, getQuote, getUsage, healthz, listMaterials, listOrders, readyz, uploadModel, UNIT_COST } from './lib/api.ts';
import { PLANS, RATE_MULTIPLIER, WRITES, envDuration, envNumber } from './lib/config.ts';
import type { Plan } from './lib/config.ts';
import { DEFAULT_PARAMETERS, binaryStl, idempotencyKey, orderFromModel, pick, uniqueSeed } from './lib/data.ts';
import { OPS, seller } from './lib/http.ts';
import type { Op } from './lib/http.ts';
import { OPERATOR_TOKEN, OPERATOR_TOKEN_SOURCE } from './lib/jwt.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import { preflight, seedPlans } from './lib/setup.ts';
import type { SeededPlans } from './lib/setup.ts';
import { summaryHandler } from './lib/summary.ts';
import { ThresholdSet } from './lib/thresholds.ts';

const DURATION = envDuration('DURATION', '1m');
const RATE = envNumber('SMOKE_RATE', 2, { min: 0.1 }) * RATE_MULTIPLIER;
const WRITER: Plan = 'enterprise';

interface Step {
  op: Op;
  plan?: Plan;
}

// Every read for every plan, then the writes (as the enterprise seller), the dashboard and the health endpoints.
const STEPS: Step[] = [];
for (const plan of PLANS) for (const op of ['listOrders', 'getOrder', 'listMaterials', 'getUsage'] as Op[]) STEPS.push({ op, plan });
// Quotes exist only if setup could ask for one (a write).
if (WRITES) for (const op of ['getQuote', 'uploadModel', 'createQuote', 'createOrder'] as Op[]) STEPS.push({ op, plan: WRITER });
if (OPERATOR_TOKEN) STEPS.push({ op: 'dashboard' });
STEPS.push({ op: 'healthz' }, { op: 'readyz' });

const scenarios = {
  smoke: constantArrival({ exec: 'smoke', perSecond: RATE, durationSec: DURATION, typicalLatencySec: 0.3, worstLatencySec: 5 }),
};

const usedOps: Op[] = OPS.filter((op) => STEPS.some((s) => s.op === op) || (op === 'cancelOrder' && WRITES));
const t = new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(usedOps);
// Every operation answered, and answered well (no samples = 0% = fail).
for (const op of usedOps) t.atLeast('facet_ok', { op }, 0.99);
t.latency('http_req_duration', { kind: 'read' }, 500, 1500);
if (WRITES) t.latency('http_req_duration', { kind: 'write' }, 2000, 5000);
if (OPERATOR_TOKEN) t.latency('http_req_duration', { op: 'dashboard' }, 500, 2500);
t.below('facet_429', {}, 0.01);
t.below('facet_503', {}, 0.01);

export const options = scriptOptions(scenarios, t, 120);

export function setup(): SeededPlans {
  // Units per plan: its share of the steps at up to ~4 units a step (an order with its cancellation), plus setup's upload and quote.
  const share = (plan: Plan) => STEPS.filter((s) => (s.plan ?? WRITER) === plan).length / STEPS.length;
  const setupUnits = UNIT_COST.uploadModel + UNIT_COST.createQuote + 5;
  const checked = preflight(PLANS.map((plan) => ({ seller: seller(plan), unitsPerSec: RATE * share(plan) * 4 + setupUnits / DURATION, durationSec: DURATION })));
  const sellers = seedPlans(PLANS, (plan) => ({ model: WRITES && plan === WRITER, quote: WRITES && plan === WRITER }));
  const notes = checked.notes.slice();
  notes.push(`operator token: ${OPERATOR_TOKEN_SOURCE}${OPERATOR_TOKEN ? '' : ' — dashboard not tested'}`);
  if (!WRITES) notes.push('WRITES=off: uploads, quotes, orders and cancellations not tested');
  return { sellers, notes };
}

export function smoke(data: SeededPlans): void {
  const step = STEPS[exec.scenario.iterationInTest % STEPS.length] as Step;
  const plan = step.plan ?? WRITER;
  const who = seller(plan);
  const mine = data.sellers[plan];
  switch (step.op) {
    case 'listOrders':
      listOrders(who, 'limit=5');
      return;
    case 'getOrder': {
      const id = pick(mine?.orderIds ?? []);
      if (id) getOrder(who, id);
      else listOrders(who, 'limit=1');
      return;
    }
    case 'listMaterials':
      listMaterials(who);
      return;
    case 'getUsage':
      getUsage(who);
      return;
    case 'getQuote':
      if (mine?.anyQuoteId) getQuote(who, mine.anyQuoteId);
      else getUsage(who);
      return;
    case 'uploadModel': {
      const s = uniqueSeed();
      uploadModel(who, binaryStl(32, s), `k6-smoke-${s}.stl`);
      return;
    }
    case 'createQuote':
      if (mine?.modelId) createQuote(who, mine.modelId, DEFAULT_PARAMETERS);
      return;
    case 'createOrder': {
      // Place an order, then cancel it at once: the smoke test leaves nothing to manufacture.
      if (!mine?.modelId) return;
      const placed = createOrder(who, orderFromModel(mine.modelId), idempotencyKey());
      const id = placed.json<{ id: string }>()?.id;
      if (placed.status === 202 && id) cancelOrder(who, id, 'k6 smoke test');
      return;
    }
    case 'dashboard':
      dashboard(OPERATOR_TOKEN);
      return;
    case 'healthz':
      healthz();
      return;
    case 'readyz':
      readyz();
      return;
    default:
      return;
  }
}

export const handleSummary = summaryHandler('smoke', undefined, [
  `${STEPS.length} steps round-robin at ${RATE.toFixed(2)} it/s for ${DURATION}s; writes ${WRITES ? 'on' : 'off'}; dashboard ${OPERATOR_TOKEN ? 'on' : 'off'}`,
]);
