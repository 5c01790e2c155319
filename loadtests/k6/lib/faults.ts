// Fault injection through the simulators' admin API (sim/README.md):
// PUT {MES_ADMIN_URL}/_sim/faults with {latency_ms, error_rate, down, hang},
// merged into the current faults. Against a real MES there is no such API:
// take the MES away by other means and run mes-outage.ts with
// MES_ADMIN_URL=off (see README).

import http from 'k6/http';
import { MES_ADMIN_URL } from './config.ts';

export interface Faults {
  latency_ms?: number;
  error_rate?: number;
  down?: boolean;
  hang?: boolean;
}

export const NO_FAULTS: Faults = { latency_ms: 0, error_rate: 0, down: false, hang: false };

export function faultInjectionEnabled(): boolean {
  return MES_ADMIN_URL !== 'off';
}

/** Sets the MES simulator's faults; returns the status (0: the admin API did not answer). */
export function setMesFaults(faults: Faults): number {
  if (!faultInjectionEnabled()) return 204;
  const res = http.put(`${MES_ADMIN_URL}/_sim/faults`, JSON.stringify(faults), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'PUT /_sim/faults', op: 'admin:faults', kind: 'setup' },
    timeout: '10s',
  });
  return res.status;
}
