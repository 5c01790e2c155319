// Whether this process traces, and under which service name. Pure functions
// of the environment, so the decision is testable without starting anything.

import { relative, sep } from 'node:path';

export interface TracingDecision {
  enabled: boolean;
  /** Why not, for a start-up log line or a test. */
  reason: 'on' | 'sdk-disabled' | 'no-endpoint' | 'exporter-none';
}

export function decideTracing(env: NodeJS.ProcessEnv): TracingDecision {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return { enabled: false, reason: 'sdk-disabled' };
  if ((env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()).includes('none')) return { enabled: false, reason: 'exporter-none' };
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return { enabled: false, reason: 'no-endpoint' };
  return { enabled: true, reason: 'on' };
}

/** Entry script (relative to the repository) → service name. */
const SERVICE_BY_ENTRY: Record<string, string> = {
  'entries/gateway.ts': 'facet-gateway',
  // npm start: gateway, adapters and simulators in one process, named after the gateway.
  'entries/embedded.ts': 'facet-gateway',
  'adapters/main.ts': 'facet-adapters',
  'sim/main.ts': 'facet-sim',
  'sim/mes/main.ts': 'facet-mes-sim',
  'sim/crm/main.ts': 'facet-crm-sim',
};

export function serviceNameFor(entry: string | undefined, cwd: string): string {
  if (!entry) return 'facet';
  const path = relative(cwd, entry).split(sep).join('/');
  return SERVICE_BY_ENTRY[path] ?? 'facet';
}

/** The share of new traces kept when nothing says otherwise (a caller's sampled traceparent is always honoured). */
export const DEFAULT_SAMPLE_RATIO = 0.1;

/**
 * The sampler settings tracing starts with: OTEL_TRACES_SAMPLER and
 * OTEL_TRACES_SAMPLER_ARG as set, else parent-based with a ratio
 * (OTEL_TRACES_SAMPLER_ARG, default 10%) instead of the SDK's
 * parentbased_always_on: tracing every request cost 0.62× of the untraced
 * req/s at saturation (docs/observability.md, "Cost").
 */
export function samplerSettings(env: NodeJS.ProcessEnv): { OTEL_TRACES_SAMPLER: string; OTEL_TRACES_SAMPLER_ARG?: string } {
  const sampler = (env.OTEL_TRACES_SAMPLER ?? '').trim();
  const arg = (env.OTEL_TRACES_SAMPLER_ARG ?? '').trim();
  if (sampler) return arg ? { OTEL_TRACES_SAMPLER: sampler, OTEL_TRACES_SAMPLER_ARG: arg } : { OTEL_TRACES_SAMPLER: sampler };
  return { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: arg || String(DEFAULT_SAMPLE_RATIO) };
}
