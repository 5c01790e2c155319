// What setup() does before the load starts: check each key against the plan
// the script sizes its load for (GET /v1/usage: plan, rate limit, what is
// left of the daily quota), then fetch ids to read, upload a model and get
// a quote to order from. Its requests are tagged kind=setup and kept out of
// the custom metrics, so thresholds only see the scenarios' traffic.

import { fail, sleep } from 'k6';
import { createQuote, getQuote, getUsage, listOrders, uploadModel } from './api.ts';
import { BASE_URL, LIMITS, SKIP_PREFLIGHT, envDuration } from './config.ts';
import type { Plan } from './config.ts';
import { DEFAULT_PARAMETERS, binaryStl } from './data.ts';
import { seller } from './http.ts';
import type { Answer, Seller } from './http.ts';

const SETUP = { setup: true } as const;

/** Retries an answer refused for a moment (429/503 with a short Retry-After). */
export function retrying(send: () => Answer, attempts = 4): Answer {
  let answer = send();
  for (let i = 1; i < attempts && (answer.status === 429 || answer.status === 503); i += 1) {
    const wait = Number(answer.header('Retry-After')) || 1;
    if (wait > 15) break;
    sleep(wait);
    answer = send();
  }
  return answer;
}

interface UsageWindow {
  name: string;
  limit: number;
  remaining: number;
  window_seconds: number;
}

interface Usage {
  seller_id: string;
  plan: string;
  windows: UsageWindow[];
}

export interface Spend {
  seller: Seller;
  /** Units per second the run will spend for this seller, on average. */
  unitsPerSec: number;
  durationSec: number;
  /** Compare the key's limits with LIMITS[plan] (off for a load-test seller with overrides). */
  checkPlan?: boolean;
  /** The key's rate limit must be at least this (units/s), e.g. overload needs quotas out of reach. */
  minRatePerSecond?: number;
}

export interface PreflightResult {
  sellerIds: Record<string, string>;
  notes: string[];
}

function stop(message: string, notes: string[]): void {
  if (SKIP_PREFLIGHT) {
    console.warn(`preflight (SKIP_PREFLIGHT=on, going on): ${message}`);
    notes.push(`preflight ignored: ${message}`);
    return;
  }
  fail(`preflight: ${message} (SKIP_PREFLIGHT=on runs anyway)`);
}

/** Checks every seller's key, plan and remaining daily quota; stops the run (k6 exit 107) when one cannot carry the planned load. */
export function preflight(spends: Spend[]): PreflightResult {
  const result: PreflightResult = { sellerIds: {}, notes: [] };
  for (const spend of spends) {
    const who = spend.seller;
    const answer = retrying(() => getUsage(who, SETUP));
    if (answer.status === 0) {
      stop(`no answer from ${BASE_URL} (${answer.res.error || 'connection failed'}): is BASE_URL right and the gateway up?`, result.notes);
      continue;
    }
    if (answer.status !== 200) {
      stop(`seller "${who.label}" (plan ${who.plan}): GET /v1/usage answered ${answer.status} ${answer.code}; check its key`, result.notes);
      continue;
    }
    const usage = answer.json<Usage>();
    if (!usage || !Array.isArray(usage.windows)) {
      stop(`seller "${who.label}": GET /v1/usage body is not a Usage document`, result.notes);
      continue;
    }
    result.sellerIds[who.label] = usage.seller_id;
    const rate = usage.windows.filter((w) => w.name === 'rate')[0];
    const daily = usage.windows.filter((w) => w.name === 'daily')[0];
    if (spend.checkPlan !== false) {
      if (usage.plan !== who.plan) result.notes.push(`seller "${who.label}" is on plan "${usage.plan}", tagged plan=${who.plan}`);
      const assumed = LIMITS[who.plan].perSecond;
      if (rate && rate.limit !== assumed) {
        stop(`seller "${who.label}": its rate limit is ${rate.limit} units/s, the script assumes ${assumed} for plan ${who.plan}; set PLAN_LIMITS`, result.notes);
      }
    }
    if (spend.minRatePerSecond !== undefined && rate && rate.limit < spend.minRatePerSecond) {
      stop(
        `seller "${who.label}": its rate limit is ${rate.limit} units/s but this run offers ${Math.round(spend.minRatePerSecond)} units/s; ` +
          'quota would answer 429 instead of the behaviour under test (use a load-test seller whose limits are out of reach, see README)',
        result.notes,
      );
    }
    const needed = Math.ceil(spend.unitsPerSec * spend.durationSec * 1.1);
    if (daily && daily.remaining < needed) {
      stop(`seller "${who.label}": ${daily.remaining} units left of its daily quota, this run needs about ${needed}`, result.notes);
    }
  }
  return result;
}

export interface SellerSeed {
  label: string;
  plan: Plan;
  /** Newest orders of the seller (ids to read). */
  orderIds: string[];
  /** next_cursor of the first page (a second page to list). */
  cursor: string | null;
  /** A model uploaded by setup (same content every run). */
  modelId: string | null;
  /** A ready quote of that model, or null if pricing did not finish in QUOTE_WAIT. */
  quoteId: string | null;
  /** The quote setup asked for, ready or still pending (something to GET). */
  anyQuoteId: string | null;
}

interface OrderPage {
  items: Array<{ id: string }>;
  next_cursor: string | null;
}

/** What setup() hands to the scenarios of a script that seeds one seller per plan: the seeds by plan, and notes for the summary. */
export interface SeededPlans {
  sellers: Record<string, SellerSeed>;
  notes: string[];
}

export interface SeedOptions {
  /** Pages of 100 orders to collect ids from. */
  orderPages?: number;
  /** Upload a model (5 units) and quote it (10 units). */
  model?: boolean;
  quote?: boolean;
}

/** Ids and a model for one seller. */
export function seed(who: Seller, options: SeedOptions = {}): SellerSeed {
  const out: SellerSeed = { label: who.label, plan: who.plan, orderIds: [], cursor: null, modelId: null, quoteId: null, anyQuoteId: null };
  let cursor: string | null = null;
  for (let page = 0; page < (options.orderPages ?? 1); page += 1) {
    const query = `limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const answer = retrying(() => listOrders(who, query, SETUP));
    if (answer.status !== 200) {
      fail(`setup: GET /v1/orders for seller "${who.label}" answered ${answer.status} ${answer.code}`);
    }
    const body = answer.json<OrderPage>();
    for (const item of body?.items ?? []) out.orderIds.push(item.id);
    cursor = body?.next_cursor ?? null;
    if (page === 0) out.cursor = cursor;
    if (!cursor) break;
  }

  if (options.model) {
    // Same bytes every run: after the first run its quotes are known prices (200 at once).
    const answer = retrying(() => uploadModel(who, binaryStl(64, 4242), 'k6-setup-ring.stl', SETUP));
    if (answer.status !== 201) fail(`setup: POST /v1/models for seller "${who.label}" answered ${answer.status} ${answer.code}`);
    out.modelId = answer.json<{ id: string }>()?.id ?? null;
  }

  if (options.quote && out.modelId) {
    const modelId = out.modelId;
    let answer = retrying(() => createQuote(who, modelId, DEFAULT_PARAMETERS, SETUP));
    const deadline = Date.now() + envDuration('QUOTE_WAIT', '20s') * 1000;
    let quote = answer.json<{ id: string; status: string }>();
    out.anyQuoteId = answer.status < 300 && quote ? quote.id : null;
    while (answer.status < 300 && quote && quote.status === 'pending' && Date.now() < deadline) {
      sleep(Math.min(5, Number(answer.header('Retry-After')) || 1));
      const id = quote.id;
      answer = retrying(() => getQuote(who, id, SETUP));
      quote = answer.json<{ id: string; status: string }>();
    }
    out.quoteId = answer.status < 300 && quote && quote.status === 'ready' ? quote.id : null;
  }
  return out;
}

/** Seeds the seller of each plan, with the options `options(plan)` gives it. */
export function seedPlans(plans: readonly Plan[], options: (plan: Plan) => SeedOptions = () => ({})): Record<string, SellerSeed> {
  const sellers: Record<string, SellerSeed> = {};
  for (const plan of plans) sellers[plan] = seed(seller(plan), options(plan));
  return sellers;
}
