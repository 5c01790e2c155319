// Tenant isolation (issue 3): seller B (enterprise plan) reads at a normal
// rate alone, then at the same rate while seller A (free plan) floods at 20×
// its plan's rate. A's excess must be refused (429) cheaply enough that B
// does not notice: B's p99 should stay within 20% of its solo baseline.

import { withoutPolicy } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import { BENCH_REDIS_URL, benchRedis, resetQuotaCounters } from '../redis.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { upperMedian } from '../statistics.ts';
import { comparison, ms, ORDERS, percent, perSec, ratio, redisCpuProbe, redisProbe, SELLERS, target } from './common.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries, TargetResult } from './types.ts';

const PIPELINE = 'sellerReads';
const B = SELLERS.enterprise;
const A = SELLERS.free;
const B_RATE = 50;
/** The free plan's sustained rate (gateway.config.yml: 5 units/s plus a burst of 10 per 10 s). */
const A_PLAN_RATE = 5;
const A_FACTOR = 20;
const A_RATE = A_PLAN_RATE * A_FACTOR;
const FULL_DURATION_S = 20;
const P99_TOLERANCE = 0.2;

const SOLO = 'B solo';
const FLOODED = 'B, A flooding';
const FLOOD = 'A flood';
const GATEWAY_CPU = 'gateway';
const QUOTA_EXCEEDED = { status: 429, code: 'FACET_ERR_QUOTA_EXCEEDED' } as const;

function compare(summaries: Summaries): Comparison[] {
  const solo = summaries.get(SOLO);
  const flooded = summaries.get(FLOODED);
  const flood = flooded?.alongside[FLOOD];
  return [
    comparison('B p50, solo → with A flooding', `${ms(solo?.p50Ms)} → ${ms(flooded?.p50Ms)} (${ratio(flooded?.p50Ms, solo?.p50Ms)})`),
    comparison('B p99, solo → with A flooding', `${ms(solo?.p99Ms)} → ${ms(flooded?.p99Ms)} (${ratio(flooded?.p99Ms, solo?.p99Ms)})`),
    comparison('B 2xx/s, solo → with A flooding', `${perSec(solo?.okPerSec)} → ${perSec(flooded?.okPerSec)}`),
    comparison('A offered / answered 2xx', `${perSec(flood?.offeredPerSec)} / ${perSec(flood?.okPerSec)}`),
    comparison('A answered 429 FACET_ERR_QUOTA_EXCEEDED', percent(flood?.refusedShare)),
    comparison('A p99 of the 429s', ms(flood?.refusedP99Ms)),
    comparison('Redis scripts (EVALSHA) per B request, solo', solo?.countersPerRequest['redis.cmd:evalsha']?.toFixed(2) ?? 'n/a'),
    comparison('Redis scripts (EVALSHA) per A request, flooding', scriptsPerFloodRequest(summaries)),
  ];
}

/** EVALSHA per request of A: the flooded rounds' scripts, less B's at its solo rate per request, over A's requests. */
function scriptsPerFloodRequest(summaries: Summaries): string {
  const perB = summaries.get(SOLO)?.countersPerRequest['redis.cmd:evalsha'];
  const rounds = summaries.get(FLOODED)?.rounds ?? [];
  if (perB === undefined || rounds.length === 0) return 'n/a';
  const values = rounds.flatMap((m) => {
    const total = m.counters['redis.cmd:evalsha'];
    const a = m.alongside[FLOOD]?.requests ?? 0;
    return total === undefined || a === 0 ? [] : [(total - perB * m.requests) / a];
  });
  return values.length === 0 ? 'n/a' : upperMedian(values).toFixed(2);
}

function targets(summaries: Summaries): TargetResult[] {
  const solo = summaries.get(SOLO)?.p99Ms;
  const flooded = summaries.get(FLOODED)?.p99Ms;
  const r = solo !== undefined && flooded !== undefined && solo > 0 ? flooded / solo : undefined;
  return [target(`B's p99 with A flooding within ${P99_TOLERANCE * 100}% of its solo p99`, r, r === undefined ? 'n/a' : `${r.toFixed(2)}× (${ms(flooded)} vs ${ms(solo)})`, (v) => v <= 1 + P99_TOLERANCE)];
}

export const noisyNeighbour: Scenario = {
  name: 'noisy-neighbour',
  description: `Seller B (${B.plan} plan) at ${B_RATE} req/s alone vs the same while seller A (${A.plan} plan, ${A_PLAN_RATE}/s) floods at ${A_FACTOR}× its rate; quotas in Redis (CRM latency 0, cache step removed).`,
  async prepare({ group, settings }): Promise<PreparedScenario> {
    const redis = await benchRedis(group);
    // Full windows for both sellers at the start, whatever earlier runs left (benchmark database only).
    await resetQuotaCounters(redis, [A.id, B.id]);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const gateway = await startGateway(group, { crm, mes }, { config: [withoutPolicy('cache', [PIPELINE])], env: { REDIS_URL: BENCH_REDIS_URL } });
    const durationS = settings.mode === 'full' ? Math.max(FULL_DURATION_S, settings.durationS) : settings.durationS;
    const bRequest = { url: `${gateway.url}/v1/orders/${ORDERS.slr_0003}`, headers: { 'x-api-key': B.key } };
    const aRequest = { url: `${gateway.url}/v1/orders/${ORDERS.slr_0001}`, headers: { 'x-api-key': A.key } };
    return {
      variants: [
        {
          name: SOLO,
          description: `GET /v1/orders/${ORDERS.slr_0003} as ${B.id} (${B.key}), nobody else sending`,
          request: bRequest,
          load: { kind: 'open', ratePerSec: B_RATE, durationS },
        },
        {
          name: FLOODED,
          description: `the same, while ${A.id} (${A.key}) sends GET /v1/orders/${ORDERS.slr_0001} at ${A_RATE} req/s; 429 ${QUOTA_EXCEEDED.code} expected for A only`,
          request: bRequest,
          load: { kind: 'open', ratePerSec: B_RATE, durationS },
          alongside: {
            [FLOOD]: { request: aRequest, load: { kind: 'open', ratePerSec: A_RATE, durationS }, expected: [QUOTA_EXCEEDED] },
          },
        },
      ],
      cpu: [
        { label: GATEWAY_CPU, pid: gateway.process.pid },
        { label: 'CRM sim', pid: crm.process.pid },
        ...(await redisCpuProbe(redis)),
      ],
      counters: [redisProbe(redis, gateway.process.pid)],
      notes: [
        `Gateway: gateway.config.yml at the commit measured (plans, quotas and shedding as configured), NODE_ENV=production, LOG_LEVEL=warn, REDIS_URL=${BENCH_REDIS_URL} (quota counters shared in Redis), with one edit: the \`cache\` step removed from \`${PIPELINE}\`, so every admitted request goes to the CRM (as reads of many different orders would) rather than to a cached copy.`,
        `Both sellers are sent at a constant rate (open loop, loadtests/bench/open-loop.ts): B at ${B_RATE} req/s, A at ${A_RATE} req/s = ${A_FACTOR}× the free plan's ${A_PLAN_RATE}/s (plus its burst of 10 per 10 s). Latency counts from each request's scheduled send time. A's 429s are expected and counted, for A's traffic only; any non-2xx for B fails the run.`,
        `The quota counters of ${A.id} and ${B.id} are deleted from the benchmark's Redis database before the run (\`facet:q:{rate,burst,daily}:{<seller>}\`), so each run starts with full windows; nothing else in Redis is touched.`,
        `Durations: ${durationS} s per measurement, so B's p99 is over ~${B_RATE * durationS} answers per round (its 99th percentile is about its ${Math.max(1, Math.round(B_RATE * durationS * 0.01))}th-slowest answer); at such low rates p99 moves with single slow answers (a GC pause, another process on the CPUs), so compare it with the per-round spread below.`,
        'Redis scripts per request come from INFO commandstats (server-wide: other clients of the Redis server count too); A\'s are the flooded rounds\' EVALSHA calls less B\'s (at B\'s solo rate per request), over A\'s requests. A refused request runs more scripts than an admitted one: the rate window refuses, then the burst window is tried, the daily window counts it and then hands the unit back (quota-service.ts).',
        'Gateway CPU µs/request is over all requests of the measurement (B\'s and A\'s). At these low rates it includes the gateway\'s background work (timers, the dashboard\'s refresh-ahead calling the MES every 8 s), so it is not comparable with the saturating scenarios\' figures.',
      ],
      compare,
      targets,
    };
  },
};
