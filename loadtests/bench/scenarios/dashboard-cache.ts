// The operators' dashboard (issue 4): GET /internal/v1/dashboard/orders
// through the gateway with its cache warm (Redis; refresh-ahead keeps the
// first page fresh) vs GET /mes/dashboard/orders on the MES simulator at its
// real latency (~2 s at 50,000 orders). Aim: the cached answer ≥ 100× faster.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { startGateway } from '../gateway-service.ts';
import { operatorToken } from '../operator-token.ts';
import { BENCH_REDIS_URL, benchRedis, deleteBenchKeys } from '../redis.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { cacheStatusKind, comparison, ms, ratio, target } from './common.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries, TargetResult } from './types.ts';

const FEW = 4;
const DIRECT_PER_CONNECTION_FULL = 5;
const DIRECT_PER_CONNECTION_SMOKE = 1;
const WARM_TIMEOUT_MS = 30_000;
const SPEEDUP_TARGET = 100;
/** The gateway's dashboard cache entries (cache-service.ts: facet:c:<scope>:g<generation>:<route>:<parameters>). */
const DASHBOARD_KEYS = 'facet:c:dashboard:*';

const GATEWAY_FEW = `gateway, ${FEW} connections`;
const GATEWAY_MANY = 'gateway, 50 connections';
const DIRECT = `MES direct, ${FEW} connections`;
const GATEWAY_CPU = 'gateway';
const MES_CPU = 'MES sim';

function p95(summaries: Summaries, name: string): number | undefined {
  return summaries.get(name)?.p95Ms;
}

function compare(summaries: Summaries): Comparison[] {
  const few = summaries.get(GATEWAY_FEW);
  const many = summaries.get(GATEWAY_MANY);
  const direct = summaries.get(DIRECT);
  return [
    comparison(`p50, MES direct / gateway (${FEW} connections each)`, ratio(direct?.p50Ms, few?.p50Ms)),
    comparison(`p95, MES direct / gateway (${FEW} connections each)`, ratio(p95(summaries, DIRECT), p95(summaries, GATEWAY_FEW))),
    comparison('p50, MES direct / gateway at 50 connections', ratio(direct?.p50Ms, many?.p50Ms)),
    comparison('p95, MES direct / gateway at 50 connections', ratio(p95(summaries, DIRECT), p95(summaries, GATEWAY_MANY))),
    comparison('p50 / p95 gateway (4 connections)', `${ms(few?.p50Ms)} / ${ms(p95(summaries, GATEWAY_FEW))}`),
    comparison('p50 / p95 gateway (50 connections)', `${ms(many?.p50Ms)} / ${ms(p95(summaries, GATEWAY_MANY))}`),
    comparison('p50 / p95 MES direct', `${ms(direct?.p50Ms)} / ${ms(p95(summaries, DIRECT))}`),
  ];
}

function targets(summaries: Summaries): TargetResult[] {
  const few = summaries.get(GATEWAY_FEW)?.p50Ms;
  const direct = summaries.get(DIRECT)?.p50Ms;
  const p50Ratio = few !== undefined && direct !== undefined && few > 0 ? direct / few : undefined;
  const p95Few = p95(summaries, GATEWAY_FEW);
  const p95Direct = p95(summaries, DIRECT);
  const p95Ratio = p95Few !== undefined && p95Direct !== undefined && p95Few > 0 ? p95Direct / p95Few : undefined;
  return [
    target(`cached dashboard p50 ≥ ${SPEEDUP_TARGET}× faster than the MES (${FEW} connections each)`, p50Ratio, p50Ratio === undefined ? 'n/a' : `${Math.round(p50Ratio).toLocaleString('en-US')}×`, (v) => v >= SPEEDUP_TARGET),
    target(`cached dashboard p95 ≥ ${SPEEDUP_TARGET}× faster than the MES (${FEW} connections each)`, p95Ratio, p95Ratio === undefined ? 'n/a' : `${Math.round(p95Ratio).toLocaleString('en-US')}×`, (v) => v >= SPEEDUP_TARGET),
  ];
}

/**
 * Waits for refresh-ahead to store its first entry, then polls the
 * dashboard until an answer comes from the cache; returns the first
 * answer's Cache-Status and how long it took.
 */
async function waitWarm(redis: Redis, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ first: string; firstMs: number }> {
  const deadline = Date.now() + WARM_TIMEOUT_MS;
  while (Date.now() < deadline && (await redis.keys(DASHBOARD_KEYS)).length === 0) await sleep(100, undefined, { signal });
  let first: string | undefined;
  let firstMs = 0;
  while (Date.now() < deadline) {
    const started = performance.now();
    const response = await fetch(url, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]) });
    await response.arrayBuffer();
    const status = response.headers.get('cache-status') ?? '(none)';
    if (first === undefined) {
      first = `${response.status} ${status}`;
      firstMs = performance.now() - started;
    }
    if (response.ok && / hit/.test(status)) return { first, firstMs };
    await sleep(250, undefined, { signal });
  }
  throw new Error(`the dashboard was not served from the cache within ${WARM_TIMEOUT_MS / 1000} s (first answer: ${first})`);
}

export const dashboardCache: Scenario = {
  name: 'dashboard-cache',
  smoke: false,
  description: 'GET /internal/v1/dashboard/orders through the gateway with the cache warm (Redis) vs GET /mes/dashboard/orders on the MES simulator at its real latency (~2 s at 50,000 orders).',
  async prepare({ group, settings, signal, log }): Promise<PreparedScenario> {
    const redis = await benchRedis(group);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    // Start cold: no dashboard page left by an earlier run (benchmark database only).
    await deleteBenchKeys(redis, DASHBOARD_KEYS);
    const gateway = await startGateway(group, { crm, mes }, { env: { REDIS_URL: BENCH_REDIS_URL } });
    const headers = { authorization: `Bearer ${await operatorToken()}` };
    const url = `${gateway.url}/internal/v1/dashboard/orders`;
    const warm = await waitWarm(redis, url, headers, signal);
    log(`first dashboard answer after start: ${warm.first} in ${Math.round(warm.firstMs)} ms`);
    const perConnection = settings.mode === 'full' ? DIRECT_PER_CONNECTION_FULL : DIRECT_PER_CONNECTION_SMOKE;
    const tally = { header: 'cache-status', normalise: cacheStatusKind };
    return {
      variants: [
        {
          name: GATEWAY_FEW,
          description: 'GET /internal/v1/dashboard/orders (the first page, no query) on the gateway, operator bearer JWT',
          request: { url, headers },
          load: { connections: FEW },
          tally,
        },
        {
          name: GATEWAY_MANY,
          description: 'the same at 50 connections (saturation: latency is mostly queueing)',
          request: { url, headers },
          load: { connections: 50 },
          tally,
        },
        {
          name: DIRECT,
          description: `GET /mes/dashboard/orders on the MES simulator, ${perConnection} request${perConnection === 1 ? '' : 's'} per connection`,
          request: { url: `${mes.url}/mes/dashboard/orders` },
          load: { connections: FEW, amount: FEW * perConnection },
          warmupS: 0,
        },
      ],
      cpu: [
        { label: GATEWAY_CPU, pid: gateway.process.pid },
        { label: MES_CPU, pid: mes.process.pid },
      ],
      notes: [
        `Gateway: gateway.config.yml at the commit measured, unchanged (pipeline \`operatorDashboard\`: jwt-auth → cache (fresh 10 s, stale-while-revalidate 60 s, refresh-ahead of the first pages) → load-shed → validate → proxy), NODE_ENV=production, LOG_LEVEL=warn, REDIS_URL=${BENCH_REDIS_URL}. The operator token is an HS256 JWT (sub, role: operator) signed with the JWT_SECRET the harness gives the gateway.`,
        `MES simulator with its default dashboard latency (MES_DASHBOARD_BASE_MS 300 + MES_DASHBOARD_PER_ORDER_MS 0.034 × 50,000 orders ≈ 2 s; a timer, not CPU, so concurrent requests do not slow each other).`,
        `Before the gateway starts, the dashboard's cache entries left in the benchmark's Redis database by earlier runs are deleted (\`${DASHBOARD_KEYS}\`; nothing else is touched). The harness then waits until refresh-ahead has stored its first entry and asks for the first page: that first answer was \`${warm.first}\` in ${Math.round(warm.firstMs)} ms (a hit means refresh-ahead had filled the very entry an operator's request reads). It then polls until an answer comes from the cache before the rounds start.`,
        `Few connections (${FEW}) on both sides so that neither latency is queueing; the direct side is a fixed number of requests (each takes ~2 s), without a warm-up. The 50-connection row shows the cached answer at saturation (p50 ≈ connections ÷ req/s).`,
        'p95 is each round\'s own p95, median over the rounds, like p50/p99. Cache-Status values are tallied without their ttl: "hit" is fresh, "detail=stale-while-revalidate" was served stale while a refresh ran.',
      ],
      compare,
      targets,
    };
  },
};
