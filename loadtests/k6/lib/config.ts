// Everything a script reads from the environment (`k6 run -e NAME=value` or
// the process environment), with the defaults of this repo's demo stack
// (`npm start`). Read once, in the init context; a malformed value stops the
// run at start-up with the variable's name.

export type Plan = 'free' | 'standard' | 'enterprise';
export const PLANS: readonly Plan[] = ['free', 'standard', 'enterprise'];

export function env(name: string, fallback: string): string {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envNumber(name: string, fallback: number, range: { min?: number; max?: number } = {}): number {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw}: not a number`);
  if (range.min !== undefined && value < range.min) throw new Error(`${name}=${raw}: must be >= ${range.min}`);
  if (range.max !== undefined && value > range.max) throw new Error(`${name}=${raw}: must be <= ${range.max}`);
  return value;
}

export function envBool(name: string, fallback: boolean): boolean {
  const raw = (__ENV[name] ?? '').toLowerCase();
  if (raw === '') return fallback;
  if (['1', 'true', 'on', 'yes'].indexOf(raw) !== -1) return true;
  if (['0', 'false', 'off', 'no'].indexOf(raw) !== -1) return false;
  throw new Error(`${name}=${raw}: expected on/off (1/0, true/false, yes/no)`);
}

/** "90s", "2m", "1h30m", "1m30s", "500ms" → seconds. */
export function seconds(duration: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = re.exec(duration)) !== null) {
    const n = Number(match[1]);
    const unit = match[2];
    total += unit === 'h' ? n * 3600 : unit === 'm' ? n * 60 : unit === 's' ? n : n / 1000;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== duration.length) throw new Error(`"${duration}" is not a duration like 90s, 2m, 1h30m`);
  return total;
}

/** Seconds → a k6 duration string ("95s"). */
export function dur(sec: number): string {
  return `${Math.max(0, Math.round(sec))}s`;
}

export function envDuration(name: string, fallback: string): number {
  const raw = env(name, fallback);
  try {
    return seconds(raw);
  } catch {
    throw new Error(`${name}=${raw}: not a duration like 90s, 2m, 1h30m`);
  }
}

export const BASE_URL = env('BASE_URL', 'http://localhost:8080').replace(/\/+$/, '');

export function isLoopback(url: string): boolean {
  return /^https?:\/\/(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?(\/|$)/i.test(url);
}

/** Seller API keys, one per plan. */
export const KEYS: Record<Plan, string> = {
  free: env('FREE_KEY', 'demo-free-key'),
  standard: env('STANDARD_KEY', 'demo-pro-key'),
  enterprise: env('ENTERPRISE_KEY', 'demo-enterprise-key'),
};

export interface PlanLimits {
  /** Sustained units per second. */
  perSecond: number;
  /** Extra units above the rate within burstWindowSec. */
  burst: number;
  burstWindowSec: number;
  dailyQuota: number;
  concurrentPriceJobs: number;
  /** free plans' reads are shed first under overload. */
  tier: 'free' | 'paid';
}

// Mirrors `plans:` in gateway.config.yml. An environment with other plans sets
// PLAN_LIMITS, e.g. -e PLAN_LIMITS='{"standard":{"perSecond":100,"burst":200}}';
// setup() compares these with what GET /v1/usage says and stops on a mismatch.
const DEFAULT_LIMITS: Record<Plan, PlanLimits> = {
  free: { perSecond: 5, burst: 10, burstWindowSec: 10, dailyQuota: 5000, concurrentPriceJobs: 1, tier: 'free' },
  standard: { perSecond: 50, burst: 100, burstWindowSec: 10, dailyQuota: 200000, concurrentPriceJobs: 5, tier: 'paid' },
  enterprise: { perSecond: 200, burst: 400, burstWindowSec: 10, dailyQuota: 2000000, concurrentPriceJobs: 20, tier: 'paid' },
};

function planLimits(): Record<Plan, PlanLimits> {
  const raw = env('PLAN_LIMITS', '');
  if (!raw) return DEFAULT_LIMITS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('PLAN_LIMITS: not JSON');
  }
  const overrides = (parsed ?? {}) as Partial<Record<Plan, Partial<PlanLimits>>>;
  const out = {} as Record<Plan, PlanLimits>;
  for (const plan of PLANS) out[plan] = { ...DEFAULT_LIMITS[plan], ...(overrides[plan] ?? {}) };
  return out;
}

export const LIMITS: Record<Plan, PlanLimits> = planLimits();

/** Scales the "business" arrival rates (smoke, mix, soak, victims, baselines); never the ratios that define a scenario (20× a limit, 5× capacity). */
export const RATE_MULTIPLIER = envNumber('RATE_MULTIPLIER', 1, { min: 0.001 });
/** Multiplies every latency threshold (a slow staging environment: 2). */
export const LATENCY_SCALE = envNumber('LATENCY_SCALE', 1, { min: 0.01 });
/** Writes (uploads, quotes, orders, cancellations) in smoke, mix and soak. */
export const WRITES = envBool('WRITES', true);
export const REQUEST_TIMEOUT = env('REQUEST_TIMEOUT', '30s');
/** Upper bound on VUs per scenario (each VU is one in-flight request). */
export const MAX_VUS = envNumber('MAX_VUS', 2000, { min: 1 });
/** Fault injection endpoint of the MES simulator (PUT /_sim/faults). */
export const MES_ADMIN_URL = env('MES_ADMIN_URL', 'http://localhost:8191').replace(/\/+$/, '');
/** Where handleSummary writes its JSON; "off" for none. */
export function summaryJsonPath(script: string): string {
  return env('SUMMARY_JSON', `summary-${script}.json`);
}
/** Skip setup()'s checks of keys, plans and remaining daily quota. */
export const SKIP_PREFLIGHT = envBool('SKIP_PREFLIGHT', false);
