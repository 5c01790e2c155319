// Base request latency of the simulated systems (real time, not scaled).

export interface LatencyConfig {
  baseMs: number;
  jitterMs: number;
}

export const DEFAULT_LATENCY: Readonly<LatencyConfig> = Object.freeze({ baseMs: 20, jitterMs: 20 });

/** A delay in [baseMs, baseMs + jitterMs). */
export function sampleLatency(config: LatencyConfig, random: () => number = Math.random): number {
  return Math.max(0, config.baseMs + random() * Math.max(0, config.jitterMs));
}

export function latencyFromEnv(
  prefix: string,
  fallback: LatencyConfig,
  env: NodeJS.ProcessEnv = process.env,
): LatencyConfig {
  return {
    baseMs: numberFromEnv(`${prefix}_BASE_MS`, fallback.baseMs, env),
    jitterMs: numberFromEnv(`${prefix}_JITTER_MS`, fallback.jitterMs, env),
  };
}

/** A non-negative number from the environment, or `fallback` when unset. */
export function numberFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got "${raw}"`);
  return n;
}

export function intFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const n = numberFromEnv(name, fallback, env);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${env[name] ?? ''}"`);
  return n;
}
