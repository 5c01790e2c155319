// The CRM and MES simulators as children of the harness, each on free
// loopback ports (API and admin), with no added latency unless a scenario's
// environment sets one; and their fault switch (PUT /_sim/faults), for the
// scenarios that break an upstream on purpose.

import { freePort } from './ports.ts';
import type { ProcessGroup } from './processes.ts';
import { HOST, startService } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';

/** The CRM simulator with no added latency (so the gateway's overhead is what is measured). */
export async function startCrm(group: ProcessGroup, env: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  const adminPort = await freePort();
  return startService(group, 'crm-sim', 'sim/crm/main.ts', port, {
    CRM_PORT: String(port),
    CRM_ADMIN_PORT: String(adminPort),
    SIM_HOST: HOST,
    CRM_LATENCY_BASE_MS: '0',
    CRM_LATENCY_JITTER_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  }, adminPort);
}

/**
 * The MES simulator with no added latency on its ordinary requests. The
 * dashboard query keeps its own real latency (MES_DASHBOARD_*: ~2 s at
 * 50,000 orders) unless `env` changes it.
 */
export async function startMes(group: ProcessGroup, env: Record<string, string> = {}): Promise<Service> {
  const port = await freePort();
  const adminPort = await freePort();
  return startService(group, 'mes-sim', 'sim/mes/main.ts', port, {
    MES_PORT: String(port),
    MES_ADMIN_PORT: String(adminPort),
    SIM_HOST: HOST,
    MES_LATENCY_BASE_MS: '0',
    MES_LATENCY_JITTER_MS: '0',
    LOG_LEVEL: 'warn',
    ...env,
  }, adminPort);
}

/** PUT /_sim/faults on a simulator's admin port (e.g. `{ down: true }`). */
export async function setFaults(service: Service, faults: Record<string, unknown>): Promise<void> {
  if (!service.adminUrl) throw new Error(`${service.name} has no admin port`);
  const response = await fetch(`${service.adminUrl}/_sim/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`${service.name}: PUT /_sim/faults ${JSON.stringify(faults)} answered ${response.status}: ${await response.text()}`);
}
