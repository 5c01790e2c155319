// mes-outage: the MES goes away; the gateway must degrade, not fail.
//
// setup() takes the MES simulator down (PUT MES_ADMIN_URL/_sim/faults
// {"down":true}) and waits until the gateway has noticed (materials answer
// 503, every warm dashboard page answers stale). Then:
//
//   outage    operators' dashboard     200, marked stale (Cache-Status detail=stale-...), fast
//             sellers' order reads     200, fast: they go to the CRM, and the MES outage must
//                                      not leak into them (separate bulkheads and breakers)
//             calls that need the MES  503 UPSTREAM_UNAVAILABLE / CIRCUIT_OPEN with Retry-After,
//             (materials, quotes,      fast (the breaker answers, nothing waits on a timeout)
//             uploads)
//             orders (model_id)        202: placing an order is asynchronous; once the
//                                      plan's concurrent price jobs are held by orders the
//                                      MES cannot price yet, 429 PRICE_JOBS_LIMIT (an order
//                                      without a quote starts a price job)
//   restore   the MES comes back
//   recovery  materials and the dashboard answer 200 again (the breaker closed)
//
// teardown() clears the faults whatever happened. If k6 is killed, clear them by hand:
//   curl -X PUT $MES_ADMIN_URL/_sim/faults -H 'content-type: application/json' -d '{"down":false,"hang":false,"error_rate":0,"latency_ms":0}'
//
//   k6 run -e BASE_URL=http://localhost:8080 -e MES_ADMIN_URL=http://localhost:8191 loadtests/k6/mes-outage.ts

import { check, fail, sleep } from 'k6';
import { WARM_DASHBOARD_QUERIES, createOrder, createQuote, dashboard, getOrder, getQuote, listMaterials, listOrders, uploadModel } from './lib/api.ts';
import { LIMITS, MES_ADMIN_URL, RATE_MULTIPLIER, WRITES, env, envDuration, envNumber } from './lib/config.ts';
import { DEFAULT_PARAMETERS, binaryStl, idempotencyKey, orderFromModel, pick, uniqueSeed } from './lib/data.ts';
import { NO_FAULTS, faultInjectionEnabled, setMesFaults } from './lib/faults.ts';
import type { Faults } from './lib/faults.ts';
import { seller } from './lib/http.ts';
import type { Op } from './lib/http.ts';
import { OPERATOR_TOKEN, OPERATOR_TOKEN_SOURCE } from './lib/jwt.ts';
import { scriptOptions } from './lib/options.ts';
import { constantArrival, once, plannedIterations } from './lib/scenarios.ts';
import type { ConstantArrivalRateScenario } from 'k6/options';
import { preflight, seed } from './lib/setup.ts';
import type { SellerSeed } from './lib/setup.ts';
import { summaryHandler } from './lib/summary.ts';
import { ThresholdSet } from './lib/thresholds.ts';

const OUTAGE = env('OUTAGE', 'down');
const OUTAGE_FAULTS: Record<string, Faults> = { down: { down: true }, hang: { hang: true }, errors: { error_rate: 1 } };
const FAULTS = OUTAGE_FAULTS[OUTAGE];
if (!FAULTS) throw new Error(`OUTAGE=${OUTAGE}: down, hang or errors`);
const INJECT = faultInjectionEnabled();
const OUTAGE_SEC = envDuration('OUTAGE_DURATION', '2m');
// Without fault injection the MES is taken away by hand and this run does not bring it back.
const RECOVERY_SEC = INJECT ? envDuration('RECOVERY_DURATION', '1m') : 0;
const RESTORE_GAP_SEC = 15;
const DETECT_WAIT_SEC = envDuration('OUTAGE_WAIT', '60s');

const READER = seller('standard');
const WRITER = seller('enterprise');
const OPERATOR_RATE = envNumber('OPERATOR_RATE', 2, { min: 0.01 }) * RATE_MULTIPLIER;
const READ_RATE = LIMITS.standard.perSecond * 0.3 * RATE_MULTIPLIER;
const MES_CALL_RATE = envNumber('MES_CALL_RATE', 5, { min: 0.1 }) * RATE_MULTIPLIER;
const ORDER_RATE = envNumber('ORDER_RATE', 0.5, { min: 0.01 }) * RATE_MULTIPLIER;

const scenarios: Record<string, ConstantArrivalRateScenario> = {};
const outage = { phase: 'outage' };
const recovery = { phase: 'recovery' };
if (OPERATOR_TOKEN) scenarios.outage_operators = constantArrival({ exec: 'operators', perSecond: OPERATOR_RATE, durationSec: OUTAGE_SEC, tags: outage });
scenarios.outage_seller_reads = constantArrival({ exec: 'sellerReads', perSecond: READ_RATE, durationSec: OUTAGE_SEC, tags: outage });
scenarios.outage_mes_calls = constantArrival({ exec: 'mesCalls', perSecond: MES_CALL_RATE, durationSec: OUTAGE_SEC, tags: outage, worstLatencySec: 12 });
if (WRITES) scenarios.outage_orders = constantArrival({ exec: 'orders', perSecond: ORDER_RATE, durationSec: OUTAGE_SEC, tags: outage });
if (RECOVERY_SEC > 0) {
  scenarios.restore = once('restore', OUTAGE_SEC);
  const start = OUTAGE_SEC + RESTORE_GAP_SEC;
  if (OPERATOR_TOKEN) scenarios.recovery_operators = constantArrival({ exec: 'operators', perSecond: OPERATOR_RATE, durationSec: RECOVERY_SEC, startSec: start, tags: recovery });
  scenarios.recovery_mes_calls = constantArrival({ exec: 'materials', perSecond: MES_CALL_RATE, durationSec: RECOVERY_SEC, startSec: start, tags: recovery });
}

const OPS_USED: Op[] = ['dashboard', 'listOrders', 'getOrder', 'listMaterials', 'getQuote', 'createQuote', 'uploadModel', 'createOrder'];
const t = new ThresholdSet().baseline(plannedIterations(scenarios), { serverErrors: 0.01 }).breakdowns(OPS_USED);
if (OPERATOR_TOKEN) {
  t.atLeast('facet_ok', { ...outage, kind: 'operator' }, 0.999);
  t.atLeast('facet_stale', { ...outage, kind: 'operator' }, 0.99);
  t.latency('http_req_duration', { ...outage, kind: 'operator' }, 100, 250);
}
for (const op of ['listOrders', 'getOrder']) {
  t.atLeast('facet_ok', { ...outage, op }, 0.999);
  t.latency('http_req_duration', { ...outage, op }, 300, 1000);
}
t.atLeast('facet_503', { ...outage, op: 'listMaterials' }, 0.99);
t.latency('facet_reject_duration', outage, 50, 100);
if (WRITES) {
  t.latency('http_req_duration', { ...outage, op: 'createQuote' }, 100, 250);
  t.atLeast('facet_ok', { ...outage, op: 'createOrder' }, 0.99);
}
if (RECOVERY_SEC > 0) {
  t.atLeast('facet_ok', { ...recovery, op: 'listMaterials' }, 0.99);
  if (OPERATOR_TOKEN) {
    t.atLeast('facet_ok', { ...recovery, kind: 'operator' }, 0.999);
    t.rateReport('facet_stale', { ...recovery, kind: 'operator' });
    // Reported, not asserted: after an outage longer than fresh + stale-while-revalidate (70 s),
    // the first request for a page after the MES is back waits for the MES query.
    t.trendReport('http_req_duration', { ...recovery, kind: 'operator' });
  }
}

export const options = scriptOptions(scenarios, t, DETECT_WAIT_SEC + 120, { teardownTimeout: '30s' });

interface Data {
  reader: SellerSeed;
  writer: SellerSeed;
  notes: string[];
}

function abort(message: string): never {
  setMesFaults(NO_FAULTS);
  return fail(`setup: ${message}`);
}

/** Polls until `done` answers true or DETECT_WAIT_SEC have passed. */
function waitFor(what: string, done: () => boolean, deadline: number): void {
  while (!done()) {
    if (Date.now() > deadline) abort(`the gateway did not show ${what} within ${DETECT_WAIT_SEC}s of the MES outage`);
    sleep(0.5);
  }
}

export function setup(): Data {
  const duration = OUTAGE_SEC + RESTORE_GAP_SEC + RECOVERY_SEC;
  const checked = preflight([
    { seller: READER, unitsPerSec: READ_RATE, durationSec: duration },
    { seller: WRITER, unitsPerSec: MES_CALL_RATE * 5 + ORDER_RATE * 2, durationSec: duration },
  ]);
  // Everything that needs the MES is prepared while it is up.
  const reader = seed(READER, { orderPages: 1 });
  const writer = seed(WRITER, { model: WRITES, quote: WRITES });
  const asSetup = { setup: true };
  if (INJECT && listMaterials(WRITER, asSetup).status !== 200) abort('GET /v1/materials fails before the outage: the MES is not healthy to begin with');
  if (OPERATOR_TOKEN) {
    for (const query of WARM_DASHBOARD_QUERIES) {
      const answer = dashboard(OPERATOR_TOKEN, query, asSetup);
      if (answer.status !== 200) abort(`the dashboard (${query || 'first page'}) answers ${answer.status} ${answer.code} before the outage`);
    }
  }

  if (INJECT) {
    const status = setMesFaults(FAULTS as Faults);
    if (status !== 200 && status !== 204) abort(`PUT ${MES_ADMIN_URL}/_sim/faults answered ${status}: set MES_ADMIN_URL (or MES_ADMIN_URL=off and take the MES down yourself)`);
  }
  const deadline = Date.now() + DETECT_WAIT_SEC * 1000;
  waitFor('GET /v1/materials answering 503', () => listMaterials(WRITER, asSetup).status === 503, deadline);
  if (OPERATOR_TOKEN) {
    for (const query of WARM_DASHBOARD_QUERIES) {
      waitFor(`a stale dashboard page (${query || 'first page'})`, () => dashboard(OPERATOR_TOKEN, query, asSetup).stale, deadline);
    }
  }
  const notes = checked.notes.slice();
  notes.push(`outage: ${OUTAGE} ${JSON.stringify(FAULTS)} via ${INJECT ? MES_ADMIN_URL : 'hand (MES_ADMIN_URL=off)'}, ${OUTAGE_SEC}s; recovery ${RECOVERY_SEC}s`);
  notes.push(`operator token: ${OPERATOR_TOKEN_SOURCE}${OPERATOR_TOKEN ? '' : ' — dashboard not tested'}`);
  if (!writer.quoteId) notes.push('setup quote not ready before the outage: quote reads use the pending quote');
  return { reader, writer, notes };
}

export function operators(): void {
  dashboard(OPERATOR_TOKEN, pick(WARM_DASHBOARD_QUERIES) ?? '');
}

export function sellerReads(data: Data): void {
  const id = Math.random() < 0.5 ? pick(data.reader.orderIds) : undefined;
  if (id) getOrder(READER, id);
  else listOrders(READER, pick(['limit=20', 'limit=50', 'status=SHIPPED']) ?? 'limit=20');
}

const MES_DOWN = { alsoExpect: [503] };

export function mesCalls(data: Data): void {
  const quoteId = data.writer.quoteId ?? data.writer.anyQuoteId;
  const modelId = data.writer.modelId;
  const r = Math.random();
  if (r < 0.4) listMaterials(WRITER, MES_DOWN);
  else if (r < 0.6 || !WRITES || !modelId) {
    if (quoteId) getQuote(WRITER, quoteId, MES_DOWN);
    else listMaterials(WRITER, MES_DOWN);
  } else if (r < 0.85) createQuote(WRITER, modelId, DEFAULT_PARAMETERS, MES_DOWN);
  else {
    const s = uniqueSeed();
    uploadModel(WRITER, binaryStl(32, s), `k6-outage-${s}.stl`, MES_DOWN);
  }
}

export function orders(data: Data): void {
  if (!data.writer.modelId) return;
  createOrder(WRITER, orderFromModel(data.writer.modelId), idempotencyKey());
}

export function materials(): void {
  listMaterials(WRITER);
}

export function restore(): void {
  const status = setMesFaults(NO_FAULTS);
  check(status, { 'MES faults cleared': (s) => s === 200 || s === 204 });
}

export function teardown(): void {
  if (INJECT) setMesFaults(NO_FAULTS);
}

export const handleSummary = summaryHandler('mes-outage');
