// Fault injection state shared by both simulators.

export interface Faults {
  /** Extra latency added to every API request (not /healthz, not /_sim). */
  latency_ms: number;
  /** Share (0..1) of API requests answered with 500 {"error":"simulated failure"}. */
  error_rate: number;
  /** API port closed: connections are refused until cleared. */
  down: boolean;
  /** API requests (and /healthz) are held without an answer until cleared. */
  hang: boolean;
}

export const DEFAULT_FAULTS: Readonly<Faults> = Object.freeze({
  latency_ms: 0,
  error_rate: 0,
  down: false,
  hang: false,
});

const MAX_LATENCY_MS = 600_000;

export type FaultPatchResult = { ok: true; patch: Partial<Faults> } | { ok: false; error: string; field?: string };

/** Validates a (partial) faults object, e.g. a PUT /_sim/faults body. Unknown keys are rejected. */
export function parseFaultPatch(input: unknown): FaultPatchResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, error: 'body must be a JSON object' };
  }
  const patch: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'latency_ms':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_LATENCY_MS) {
          return { ok: false, error: `latency_ms must be a number between 0 and ${MAX_LATENCY_MS}`, field: key };
        }
        patch.latency_ms = value;
        break;
      case 'error_rate':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
          return { ok: false, error: 'error_rate must be a number between 0 and 1', field: key };
        }
        patch.error_rate = value;
        break;
      case 'down':
      case 'hang':
        if (typeof value !== 'boolean') return { ok: false, error: `${key} must be a boolean`, field: key };
        patch[key] = value;
        break;
      default:
        return { ok: false, error: `unknown fault "${key}"`, field: key };
    }
  }
  return { ok: true, patch };
}

/** Parses CRM_FAULTS / MES_FAULTS (JSON, same shape as PUT /_sim/faults). Throws on bad input. */
export function faultsFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): Partial<Faults> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${name} must be JSON, got ${raw}`);
  }
  const result = parseFaultPatch(parsed);
  if (!result.ok) throw new Error(`${name}: ${result.error}`);
  return result.patch;
}
