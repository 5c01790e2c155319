// The realistic seller traffic of seller-mix.ts and soak.ts: one iteration
// is one request, drawn with the business proportions below, against data
// setup() prepared (ids to read, a model, a ready quote) and what this VU
// created itself (its uploads, pending quotes and orders, which it polls and
// cancels). Also what both scripts share around it: each plan's rate, the
// objectives every plan's seller is held to, the seeding, and the scenario
// functions they export.

import { check } from 'k6';
import {
  UNIT_COST,
  WARM_DASHBOARD_QUERIES,
  cancelOrder,
  createOrder,
  createQuote,
  dashboard,
  getOrder,
  getQuote,
  getUsage,
  listMaterials,
  listOrders,
  uploadModel,
} from './api.ts';
import { LIMITS, PLANS, RATE_MULTIPLIER, WRITES } from './config.ts';
import type { Plan } from './config.ts';
import { DEFAULT_PARAMETERS, KNOWN_PARAMETERS, binaryStl, idempotencyKey, orderFromModel, orderFromQuote, pick, uniqueSeed } from './data.ts';
import type { OrderBody } from './data.ts';
import { seller } from './http.ts';
import type { CallOptions, Seller } from './http.ts';
import { OPERATOR_TOKEN } from './jwt.ts';
import { seedPlans } from './setup.ts';
import type { SeededPlans, SellerSeed } from './setup.ts';
import type { ThresholdSet } from './thresholds.ts';

export type MixOp = keyof typeof UNIT_COST;

export interface MixEntry {
  op: MixOp;
  /** Share of a seller's requests, in percent. */
  weight: number;
  write: boolean;
}

/**
 * Business proportions of a seller's requests (README, "seller-mix"): mostly
 * following orders, some catalogue and quota look-ups, and 15% writes.
 */
export const SELLER_MIX: readonly MixEntry[] = [
  { op: 'listOrders', weight: 35, write: false },
  { op: 'getOrder', weight: 30, write: false },
  { op: 'listMaterials', weight: 8, write: false },
  { op: 'getQuote', weight: 6, write: false },
  { op: 'getUsage', weight: 6, write: false },
  { op: 'createOrder', weight: 6, write: true },
  { op: 'createQuote', weight: 4, write: true },
  { op: 'uploadModel', weight: 3, write: true },
  { op: 'cancelOrder', weight: 2, write: true },
];

/**
 * A free-plan seller ("try the API") mostly reads. Its quote costs 10 units,
 * twice its plan's 5 units per second: two quotes within one 10 s burst
 * window already exhaust its burst, so it quotes and uploads rarely.
 */
export const FREE_MIX: readonly MixEntry[] = [
  { op: 'listOrders', weight: 38, write: false },
  { op: 'getOrder', weight: 34, write: false },
  { op: 'listMaterials', weight: 10, write: false },
  { op: 'getUsage', weight: 8, write: false },
  { op: 'getQuote', weight: 4, write: false },
  { op: 'createOrder', weight: 3, write: true },
  { op: 'createQuote', weight: 1, write: true },
  { op: 'uploadModel', weight: 1, write: true },
  { op: 'cancelOrder', weight: 1, write: true },
];

/** Share of placed orders sent a second time with the same Idempotency-Key and body (a client retry). */
export const REPLAY_SHARE = 0.05;

export function mixEntries(writes: boolean, plan: Plan = 'standard'): MixEntry[] {
  return (LIMITS[plan].tier === 'free' ? FREE_MIX : SELLER_MIX).filter((e) => writes || !e.write);
}

/** Average units one iteration costs. */
export function unitsPerIteration(writes: boolean, plan: Plan = 'standard'): number {
  const entries = mixEntries(writes, plan);
  let weights = 0;
  let units = 0;
  for (const e of entries) {
    weights += e.weight;
    units += e.weight * UNIT_COST[e.op] * (e.op === 'createOrder' ? 1 + REPLAY_SHARE : 1);
  }
  return units / weights;
}

/**
 * Iterations per second for a plan: `utilisation` of its rate limit
 * (times RATE_MULTIPLIER), but never more than `dailyShare` of its daily
 * quota over the run (the free plan's 5,000 units a day bind in a soak).
 */
export function mixRate(plan: Plan, utilisation: number, durationSec: number, writes: boolean, dailyShare = 0.5): number {
  const limits = LIMITS[plan];
  const byRate = limits.perSecond * utilisation * RATE_MULTIPLIER;
  const byDaily = (limits.dailyQuota * dailyShare) / Math.max(1, durationSec);
  return Math.min(byRate, byDaily) / unitsPerIteration(writes, plan);
}

/** mixRate for every plan. */
export function mixRates(utilisation: number, durationSec: number, writes: boolean): Record<Plan, number> {
  const rates = {} as Record<Plan, number>;
  for (const plan of PLANS) rates[plan] = mixRate(plan, utilisation, durationSec, writes);
  return rates;
}

/**
 * What every plan's seller is promised in the mix: reads within 300 ms at
 * p95 and 1 s at p99, hardly a 429 while within the plan, answers as the
 * contract says; and for everyone, nothing shed and few 503s.
 */
export function mixObjectives(t: ThresholdSet): ThresholdSet {
  for (const plan of PLANS) {
    t.latency('http_req_duration', { seller: plan, kind: 'read' }, 300, 1000);
    // A free seller's 10-unit quote is twice its per-second rate: its burst is all that absorbs one.
    t.below('facet_quota_429', { seller: plan }, LIMITS[plan].tier === 'free' ? 0.01 : 0.005);
    // Answered as the contract says (409 not cancellable and 429 price-jobs limit are business answers).
    t.add(`checks{seller:${plan}}`, 'rate>0.99');
  }
  t.below('facet_shed', {}, 0.001);
  t.below('facet_503', {}, 0.005);
  return t;
}

/** Each plan's seller with two pages of order ids, and with writes a model and (not on the free plan) a ready quote. */
export function seedMix(writes: boolean): Record<string, SellerSeed> {
  return seedPlans(PLANS, (plan) => ({ orderPages: 2, model: writes, quote: writes && LIMITS[plan].tier !== 'free' }));
}

/** Scenario function: one request of the seller of plan __ENV.PLAN, drawn from the mix. */
export function sellerTraffic(data: SeededPlans): void {
  const plan = (__ENV.PLAN ?? 'standard') as Plan;
  sellerIteration(seller(plan), data.sellers[plan], WRITES);
}

/** Scenario function: one operator's dashboard read. */
export function operators(): void {
  operatorIteration(OPERATOR_TOKEN);
}

function draw(entries: readonly MixEntry[]): MixOp {
  let total = 0;
  for (const e of entries) total += e.weight;
  let r = Math.random() * total;
  for (const e of entries) {
    r -= e.weight;
    if (r < 0) return e.op;
  }
  return (entries[entries.length - 1] as MixEntry).op;
}

interface VuState {
  models: string[];
  pendingQuotes: string[];
  orders: string[];
}

// Module state lives per VU (each VU has its own JS runtime).
const states: Record<string, VuState> = {};

function stateOf(label: string): VuState {
  return states[label] ?? (states[label] = { models: [], pendingQuotes: [], orders: [] });
}

function remember(list: string[], id: string | undefined, cap: number): void {
  if (!id) return;
  list.push(id);
  if (list.length > cap) list.shift();
}

function listQuery(data: SellerSeed | undefined): string {
  const queries = ['limit=20', 'limit=50', 'status=SHIPPED', 'status=MANUFACTURING_STARTED&status=MANUFACTURING_COMPLETED'];
  if (data?.cursor) queries.push(`limit=20&cursor=${data.cursor}`);
  return pick(queries) ?? 'limit=20';
}

/** One seller request drawn from the mix. */
export function sellerIteration(who: Seller, data: SellerSeed | undefined, writes: boolean, options: CallOptions = {}): void {
  const mine = stateOf(who.label);
  const op = draw(mixEntries(writes, who.plan));
  switch (op) {
    case 'listOrders':
      listOrders(who, listQuery(data), options);
      return;
    case 'getOrder': {
      const id = Math.random() < 0.1 && mine.orders.length > 0 ? pick(mine.orders) : pick(data?.orderIds ?? []);
      if (id) getOrder(who, id, options);
      else listOrders(who, listQuery(data), options);
      return;
    }
    case 'listMaterials':
      listMaterials(who, options);
      return;
    case 'getUsage':
      getUsage(who, options);
      return;
    case 'getQuote': {
      const pending = mine.pendingQuotes[0];
      const id = pending ?? data?.quoteId ?? undefined;
      if (!id) {
        getUsage(who, options);
        return;
      }
      const answer = getQuote(who, id, options);
      const status = answer.json<{ status?: string }>()?.status;
      if (pending && answer.ok && status !== 'pending') mine.pendingQuotes.shift();
      return;
    }
    case 'uploadModel': {
      const seed = uniqueSeed();
      const answer = uploadModel(who, binaryStl(200, seed), `k6-ring-${seed}.stl`, options);
      if (answer.status === 201) remember(mine.models, answer.json<{ id: string }>()?.id, 5);
      return;
    }
    case 'createQuote': {
      // Mostly re-quotes of setup's model with known parameters (answered at
      // once), a quarter for a model of this VU (a new price job).
      const own = mine.models[mine.models.length - 1];
      const known = data?.modelId ?? undefined;
      const fresh = Math.random() < 0.25 && own !== undefined;
      const modelId = fresh ? own : (known ?? own);
      if (!modelId) {
        listMaterials(who, options);
        return;
      }
      const answer = createQuote(who, modelId, fresh ? DEFAULT_PARAMETERS : (pick(KNOWN_PARAMETERS) ?? DEFAULT_PARAMETERS), options);
      if (answer.status === 202) remember(mine.pendingQuotes, answer.json<{ id: string }>()?.id, 10);
      return;
    }
    case 'createOrder': {
      const modelId = data?.modelId ?? mine.models[mine.models.length - 1];
      let body: OrderBody | undefined;
      if (data?.quoteId && Math.random() < 0.3) body = orderFromQuote(data.quoteId);
      else if (modelId) body = orderFromModel(modelId, pick(KNOWN_PARAMETERS) ?? DEFAULT_PARAMETERS);
      if (!body) {
        listOrders(who, listQuery(data), options);
        return;
      }
      placeOrder(who, body, mine, options);
      return;
    }
    case 'cancelOrder': {
      // Only orders this VU placed: never the environment's own orders.
      const id = mine.orders.shift();
      const seeded = pick(data?.orderIds ?? []);
      if (id) cancelOrder(who, id, 'k6 load test: cancelled by the test', options);
      else if (seeded) getOrder(who, seeded, options);
      else listOrders(who, listQuery(data), options);
      return;
    }
  }
}

function placeOrder(who: Seller, body: OrderBody, mine: VuState, options: CallOptions): void {
  const key = idempotencyKey();
  const first = createOrder(who, body, key, options);
  if (first.status !== 202) return;
  const id = first.json<{ id: string }>()?.id;
  remember(mine.orders, id, 20);
  if (Math.random() < REPLAY_SHARE) {
    const replay = createOrder(who, body, key, options);
    check(
      replay,
      {
        'createOrder: a retry with the same Idempotency-Key replays the first 202': (r) =>
          r.status === 202 && r.header('Idempotent-Replayed') === 'true' && r.json<{ id: string }>()?.id === id,
      },
      { op: 'createOrder', seller: who.label },
    );
  }
}

/** One operator request: a first page of the dashboard the gateway keeps warm. */
export function operatorIteration(token: string, options: CallOptions = {}): void {
  dashboard(token, pick(WARM_DASHBOARD_QUERIES) ?? '', options);
}
