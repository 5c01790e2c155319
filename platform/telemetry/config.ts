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
