// The gateway's overhead on its simplest read: one seller order through the
// gateway (key-auth → validate → proxy to the CRM → public shape) against the
// same order straight from the CRM simulator, with the simulator's latency
// at 0 so that only the gateway's own cost shows.

import { sheddingOff, unlimitedQuotaFor, withoutPolicy } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries, TargetResult } from './types.ts';

const PIPELINE = 'sellerReads';

/** A real order of slr_0002 in the default seed (SIM_SEED 42). */
export const ORDER_ID = 'ord_jzsbc0p7cvze';
const SELLER = 'slr_0002';
const API_KEY = 'demo-pro-key';
const GATEWAY_CPU = 'gateway';
const CRM_CPU = 'CRM sim';
/** DESIGN.md measured ~136 µs for a bare Fastify + reply-from proxy; this route also authenticates, validates and reshapes the body. */
const CPU_TARGET_US = 200;

function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : 'n/a';
}

function compare(summaries: Summaries): Comparison[] {
  const gateway = summaries.get('gateway');
  const direct = summaries.get('direct');
  if (!gateway || !direct) return [];
  return [
    { label: 'req/s, gateway / direct', value: ratio(gateway.reqPerSec, direct.reqPerSec) },
    { label: 'p50, gateway / direct', value: ratio(gateway.p50Ms, direct.p50Ms) },
    { label: 'p99, gateway / direct', value: ratio(gateway.p99Ms, direct.p99Ms) },
  ];
}

/** Every gateway request must have cost the CRM about what a direct one does, or something else answered. */
function validate(summaries: Summaries): string[] {
  const viaGateway = summaries.get('gateway')?.cpuMicrosPerRequest[CRM_CPU];
  const direct = summaries.get('direct')?.cpuMicrosPerRequest[CRM_CPU];
  if (viaGateway === undefined || direct === undefined || direct <= 0) return []; // no /proc: cannot tell
  if (viaGateway >= direct * 0.3) return [];
  return [
    `gateway requests barely reached the CRM (CRM CPU ${Math.round(viaGateway)} µs/request via the gateway vs ${Math.round(direct)} direct): ` +
      `something in ${PIPELINE} answered without the upstream (a cache?), so this is not the proxy path`,
  ];
}

function targets(summaries: Summaries): TargetResult[] {
  const cpu = summaries.get('gateway')?.cpuMicrosPerRequest[GATEWAY_CPU];
  return [
    {
      target: `gateway CPU ≤ ${CPU_TARGET_US} µs/request`,
      value: cpu === undefined ? 'n/a' : `${Math.round(cpu)} µs`,
      met: cpu !== undefined && cpu <= CPU_TARGET_US,
    },
  ];
}

export const proxyGetOrder: Scenario = {
  name: 'proxy-get-order',
  description: `GET /v1/orders/{id} through the gateway vs GET /crm/orders/{id} on the CRM simulator directly (CRM latency 0).`,
  async prepare({ group }): Promise<PreparedScenario> {
    const crm = await startCrm(group);
    const mes = await startMes(group);
    // The proxy path, every time: no cache in front of it. Admission control off the
    // table: the quota check runs with limits the load cannot reach, and shedding is off
    // (a saturating run is overload by design; 429/503 count as errors here).
    const gateway = await startGateway(group, { crm, mes }, { config: [withoutPolicy('cache', [PIPELINE]), unlimitedQuotaFor(SELLER), sheddingOff()] });
    return {
      variants: [
        {
          name: 'gateway',
          description: `GET /v1/orders/${ORDER_ID} on the gateway, X-API-Key of ${SELLER}`,
          request: { url: `${gateway.url}/v1/orders/${ORDER_ID}`, headers: { 'x-api-key': API_KEY } },
        },
        {
          name: 'direct',
          description: `GET /crm/orders/${ORDER_ID} on the CRM simulator`,
          request: { url: `${crm.url}/crm/orders/${ORDER_ID}` },
        },
      ],
      cpu: [
        { label: GATEWAY_CPU, pid: gateway.process.pid },
        { label: CRM_CPU, pid: crm.process.pid },
      ],
      notes: [
        `Gateway: pipeline \`${PIPELINE}\` of gateway.config.yml at the commit measured, NODE_ENV=production, LOG_LEVEL=warn, no Redis (in-process stores), with three edits in a derived config:`,
        `  the \`cache\` step removed (every request takes the proxy path: CRM over undici, body reshaped field by field; a cache hit is its own scenario);`,
        `  the rate and daily quota of ${SELLER}'s plan raised out of reach (the quota policy runs but never answers 429);`,
        `  load shedding off (\`shedding.enabled: false\`; a saturating closed-loop run is overload by design, and shedding is its own scenario).`,
        'The run fails if gateway requests cost the CRM under 30% of the CPU a direct request does (something other than the proxy answered).',
        'Both answers are ~0.6 KB of JSON.',
      ],
      compare,
      validate,
      targets,
    };
  },
};
