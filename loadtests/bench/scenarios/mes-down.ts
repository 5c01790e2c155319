// The MES hard down (issue 4): after the dashboard's first page is cached,
// the MES simulator's API port is closed (PUT /_sim/faults {"down": true}).
// Operators should still get the cached page at once (stale), and reads
// that have nothing cached should fail fast (503, breaker open) instead of
// waiting on connection attempts.

import { setTimeout as sleep } from 'node:timers/promises';
import { problemCode } from '../answers.ts';
import { unlimitedQuotaFor } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import { operatorToken } from '../operator-token.ts';
import { BENCH_REDIS_URL, benchRedis } from '../redis.ts';
import { setFaults, startCrm, startMes } from '../simulator-services.ts';
import { cacheStatusKind, comparison, ms, percent, SELLERS } from './common.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries } from './types.ts';

const RATE = 200;
const WAIT_MS = 30_000;
const SELLER = SELLERS.standard;
/** A dashboard query never asked before (not one of refreshAhead's): nothing is cached for it. */
const UNCACHED_QUERY = '?limit=7';

const STALE = 'dashboard, cached page';
const UNCACHED = 'dashboard, nothing cached';
const MATERIALS = 'materials pass-through';
const CIRCUIT_OPEN = { status: 503, code: 'FACET_ERR_UPSTREAM_CIRCUIT_OPEN' } as const;
const UNAVAILABLE = { status: 503, code: 'FACET_ERR_UPSTREAM_UNAVAILABLE' } as const;

function share(summaries: Summaries, name: string, key: string): string {
  const s = summaries.get(name);
  if (!s) return 'n/a';
  const total = Object.values(s.statusCounts).reduce((a, b) => a + b, 0);
  return total === 0 ? 'n/a' : percent((s.statusCounts[key] ?? 0) / total, 2);
}

function compare(summaries: Summaries): Comparison[] {
  const stale = summaries.get(STALE);
  const rows = [comparison(`${STALE}: p50 / p99 (2xx, from the cache)`, `${ms(stale?.p50Ms)} / ${ms(stale?.p99Ms)}`)];
  for (const name of [UNCACHED, MATERIALS]) {
    const s = summaries.get(name);
    rows.push(
      comparison(`${name}: p50 / p99 of the 503s`, `${ms(s?.refusedP50Ms)} / ${ms(s?.refusedP99Ms)}`),
      comparison(`${name}: share 503 ${CIRCUIT_OPEN.code}`, share(summaries, name, `503 ${CIRCUIT_OPEN.code}`)),
      comparison(`${name}: share 503 ${UNAVAILABLE.code}`, share(summaries, name, `503 ${UNAVAILABLE.code}`)),
    );
  }
  return rows;
}

function validate(summaries: Summaries): string[] {
  const tally = summaries.get(STALE)?.tally ?? {};
  const fresh = Object.entries(tally).filter(([value]) => !value.includes('stale')).reduce((sum, [, n]) => sum + n, 0);
  const total = Object.values(tally).reduce((a, b) => a + b, 0);
  if (total > 0 && fresh / total > 0.01) return [`${fresh} of ${total} dashboard answers were not marked stale: the MES was not down (or the cache was refreshed from elsewhere)`];
  return [];
}

async function get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ status: number; code: string | undefined; cacheStatus: string }> {
  const response = await fetch(url, { headers, signal: AbortSignal.any([signal, AbortSignal.timeout(20_000)]) });
  const text = await response.text();
  return { status: response.status, code: problemCode(text), cacheStatus: response.headers.get('cache-status') ?? '' };
}

/** Polls until `done` says yes, or fails with `what`. */
async function until(what: string, signal: AbortSignal, step: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (await step()) return;
    await sleep(200, undefined, { signal });
  }
  throw new Error(`mes-down: ${what} within ${WAIT_MS / 1000} s`);
}

export const mesDown: Scenario = {
  name: 'mes-down',
  smoke: false,
  description: `The MES hard down after the dashboard was cached: the cached dashboard page (stale) vs reads with nothing cached (breaker fast-fails), each at ${RATE} req/s open loop.`,
  async prepare({ group, signal, log }): Promise<PreparedScenario> {
    await benchRedis(group);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const gateway = await startGateway(group, { crm, mes }, { config: [unlimitedQuotaFor(SELLER.id)], env: { REDIS_URL: BENCH_REDIS_URL } });
    const operator = { authorization: `Bearer ${await operatorToken()}` };
    const seller = { 'x-api-key': SELLER.key };
    const dashboard = `${gateway.url}/internal/v1/dashboard/orders`;

    await until('the dashboard was not served from the cache', signal, async () => {
      const r = await get(dashboard, operator, signal);
      return r.status === 200 && / hit/.test(r.cacheStatus);
    });
    await setFaults(mes, { down: true });
    log('dashboard cached; MES API port now down');
    // Trip the MES breaker (the uncached route calls the MES each time), then wait for the cached page to be stale.
    await until('the MES breaker did not open', signal, async () => (await get(dashboard + UNCACHED_QUERY, operator, signal)).code === CIRCUIT_OPEN.code);
    await until('the cached dashboard page was not served stale', signal, async () => (await get(dashboard, operator, signal)).cacheStatus.includes('stale'));
    log('breaker open; cached page served stale');

    const load = { kind: 'open', ratePerSec: RATE } as const;
    const fastFails = [CIRCUIT_OPEN, UNAVAILABLE];
    return {
      variants: [
        {
          name: STALE,
          description: 'GET /internal/v1/dashboard/orders (first page, cached before the MES went down), operator JWT',
          request: { url: dashboard, headers: operator },
          load,
          tally: { header: 'cache-status', normalise: cacheStatusKind },
        },
        {
          name: UNCACHED,
          description: `GET /internal/v1/dashboard/orders${UNCACHED_QUERY} (never cached), operator JWT; 503 expected`,
          request: { url: dashboard + UNCACHED_QUERY, headers: operator },
          load,
          expected: fastFails,
          latencyOf: 'refused',
        },
        {
          name: MATERIALS,
          description: `GET /v1/materials (no cache step: relayed from the MES), X-API-Key of ${SELLER.id}; 503 expected`,
          request: { url: `${gateway.url}/v1/materials`, headers: seller },
          load,
          expected: fastFails,
          latencyOf: 'refused',
        },
      ],
      cpu: [{ label: 'gateway', pid: gateway.process.pid }],
      notes: [
        `Gateway: gateway.config.yml at the commit measured (MES breaker: opens at 50% failures over 10 s, half-open after 5 s; one retry for reads; dashboard cache fresh 10 s, stale-while-revalidate 60 s, stale-if-error 900 s), NODE_ENV=production, LOG_LEVEL=warn, REDIS_URL=${BENCH_REDIS_URL}, with one edit: ${SELLER.id}'s plan (${SELLER.plan}) raised out of reach (no 429 on the materials row).`,
        'Sequence before the rounds: wait until the dashboard\'s first page is answered from the cache; `PUT /_sim/faults {"down":true}` on the MES admin port (its API port closes: connections are refused); call the uncached dashboard query until the gateway answers 503 FACET_ERR_UPSTREAM_CIRCUIT_OPEN; wait until the cached page is served marked stale. The MES stays down for the whole run.',
        `Each row at ${RATE} req/s open loop (loadtests/bench/open-loop.ts), latency from each request's scheduled send time: what an operator or seller waits, without queueing from a saturating load. The dashboard row's latency is of its 2xx (stale) answers; the two fast-fail rows' p50/p99 (†) are of their 503s, which are expected there (FACET_ERR_UPSTREAM_CIRCUIT_OPEN, and FACET_ERR_UPSTREAM_UNAVAILABLE from the breaker's half-open probes, which really try the MES).`,
        'At 200 req/s the gateway\'s CPU per request includes its background work (timers, refresh-ahead attempts), so it is not comparable with the saturating scenarios\' figures.',
        'The cached page is stale-while-revalidate for the first 70 s after it was stored (each answer also starts a refresh, which fails at once on the open breaker), then stale-if-error; the Cache-Status tally shows which answers the rounds got. The run fails if more than 1% of them were not marked stale.',
      ],
      compare,
      validate,
    };
  },
};
