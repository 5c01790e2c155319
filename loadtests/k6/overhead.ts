// overhead: what the policy pipeline adds to a request, seen from a client.
// Three variants at the same arrival rate, at the same time (so they share
// the network, the machine and its noise), after a warm-up:
//
//   baseline     GET /healthz            no pipeline at all (a built-in route)
//   auth_quota   GET /v1/usage           key-auth + quota + validate + respond, no upstream
//   cached_read  GET /v1/orders/{id}     key-auth + cache hit + quota + validate, no upstream
//
// What the difference measures, honestly: not "auth + quota" alone. /healthz
// differs in more than its policies (a tiny body, no request logging of a
// seller, no RateLimit headers); /v1/usage's own handler reads the quota
// counters a second time (a Redis round trip when REDIS_URL is set) and
// serialises ~400 bytes. So auth_quota − baseline is an upper bound of the
// auth + quota cost on the critical path at low load, and cached_read −
// baseline that of the full seller-read pipeline when the cache answers.
// It is latency, not CPU: the gateway's CPU per request is measured by
// `npm run bench` (docs/performance.md), on one machine, without a network.
//
//   k6 run -e BASE_URL=https://gateway.staging.example loadtests/k6/overhead.ts

import { getOrder, getUsage, healthz, listOrders } from './lib/api.ts';
import { RATE_MULTIPLIER, envDuration, envNumber } from './lib/config.ts';
import { seller } from './lib/http.ts';
import type { Op } from './lib/http.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, plannedIterations } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight, seed } from './lib/setup.ts';
import { metricValue, summaryHandler } from './lib/summary.ts';
import type { DerivedCheck, SummaryData } from './lib/summary.ts';
import { ThresholdSet } from './lib/thresholds.ts';

const RATE = envNumber('OVERHEAD_RATE', 50, { min: 1 }) * RATE_MULTIPLIER;
const DURATION = envDuration('DURATION', '2m');
const WARMUP = envDuration('WARMUP', '30s');
const P50_BUDGET_MS = envNumber('OVERHEAD_P50_BUDGET_MS', 5, { min: 0 });
const WHO = seller('enterprise');

const VARIANTS = ['baseline', 'auth_quota', 'cached_read'] as const;
type Variant = (typeof VARIANTS)[number];

const scenarios: Record<string, ConstantArrivalRateScenario> = {};
for (const variant of VARIANTS) {
  scenarios[`${variant}_warmup`] = constantArrival({ exec: variant, perSecond: RATE, durationSec: WARMUP, tags: { variant, phase: 'warmup' }, typicalLatencySec: 0.05 });
  scenarios[variant] = constantArrival({ exec: variant, perSecond: RATE, durationSec: DURATION, startSec: WARMUP, tags: { variant, phase: 'measure' }, typicalLatencySec: 0.05 });
}

const measured = (variant: Variant) => `http_req_duration{variant:${variant},phase:measure}`;
const OPS_USED: Op[] = ['healthz', 'getUsage', 'getOrder'];
const t = new ThresholdSet().baseline(plannedIterations(scenarios)).breakdowns(OPS_USED);
for (const variant of VARIANTS) {
  t.latency('http_req_duration', { variant, phase: 'measure' }, 50, 150);
  t.add(measured(variant), 'med>=0');
  t.atLeast('facet_ok', { variant }, 0.999);
}
t.below('facet_429', {}, 0.001);

export const options = scriptOptions(scenarios, t, 60);

interface Data {
  orderId: string;
  notes: string[];
}

export function setup(): Data {
  const checked = preflight([{ seller: WHO, unitsPerSec: 2 * RATE, durationSec: WARMUP + DURATION }]);
  const ids = seed(WHO).orderIds;
  const orderId = ids[0];
  if (!orderId) throw new Error(`seller "${WHO.label}" has no order to read`);
  return { orderId, notes: checked.notes.concat([`${RATE}/s per variant, ${WARMUP}s warm-up then ${DURATION}s measured; cached_read reads ${orderId}`]) };
}

export function baseline(): void {
  healthz();
}

export function auth_quota(): void {
  getUsage(WHO);
}

export function cached_read(data: Data): void {
  // One id: after the first miss every read is a cache hit (fresh, or stale-while-revalidate).
  if (data.orderId) getOrder(WHO, data.orderId);
  else listOrders(WHO, 'limit=1');
}

function derive(data: SummaryData): DerivedCheck[] {
  const out: DerivedCheck[] = [];
  for (const variant of ['auth_quota', 'cached_read'] as Variant[]) {
    const deltas: string[] = [];
    let p50: number | null = null;
    for (const stat of ['med', 'p(95)', 'p(99)']) {
      const a = metricValue(data, measured(variant), stat);
      const b = metricValue(data, measured('baseline'), stat);
      if (a === null || b === null) continue;
      if (stat === 'med') p50 = a - b;
      deltas.push(`${stat} ${a.toFixed(2)} − ${b.toFixed(2)} = ${(a - b).toFixed(2)} ms`);
    }
    out.push({
      name: `${variant} − baseline, median`,
      value: p50,
      limit: `<= ${P50_BUDGET_MS} ms`,
      ok: p50 === null ? null : p50 <= P50_BUDGET_MS,
      detail: deltas.join('; '),
    });
  }
  return out;
}

export const handleSummary = summaryHandler('overhead', derive, [
  'deltas are client-side latency at low load, an upper bound of the pipeline cost; CPU per request: npm run bench (docs/performance.md)',
]);
