// A cache hit against native and Node references (issues 4 and 16), side
// by side in one interleaved run: GET /v1/orders/{id} answered from the
// gateway's cache (the full sellerReads pipeline: key-auth, cache, load-shed,
// quota, validate) vs nginx and HAProxy proxying GET /crm/orders/{id} to the
// CRM simulator (caching nothing: what a plain native proxy costs), HAProxy
// doing the gateway's job natively (a per-key stick-table limit and its own
// cache), and express-gateway as a plain proxy (installed by the harness
// into a scratch folder; its row is skipped when that fails). HAProxy's rows
// are skipped when it is not installed. Also: where a cache hit's time goes,
// counted as Redis commands and round trips per request.

import { sheddingOutOfReach, unlimitedQuotaFor } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import { ensureExpressGateway, EXPRESS_GATEWAY_VERSION, startExpressGateway } from '../express-gateway-service.ts';
import { haproxyAvailable, HAPROXY_BINARY, startHaproxy } from '../haproxy-service.ts';
import { startNginxProxy } from '../nginx-service.ts';
import { pinServersApartFromLoad } from '../cpu-pinning.ts';
import { BENCH_REDIS_URL, benchRedis } from '../redis.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { cacheStatusKind, commandsPerRequest, comparison, ORDERS, ratio, redisCpuProbe, redisProbe, SELLERS, target } from './common.ts';
import type { CpuProbe } from '../measure.ts';
import type { Comparison, PreparedScenario, RequestVariant, Scenario, Summaries, TargetResult } from './types.ts';

const SELLER = SELLERS.standard;
const ORDER_ID = ORDERS.slr_0002;
const GATEWAY = 'gateway, cache hit';
const NGINX = 'nginx → CRM';
const HAPROXY = 'HAProxy → CRM';
const HAPROXY_CACHED = 'HAProxy, per-key limit + cache hit';
const EXPRESS_GATEWAY = 'express-gateway → CRM';
const GATEWAY_ONE = 'gateway, cache hit, 1 connection';
const GATEWAY_CPU = 'gateway';
const NGINX_CPU = 'nginx worker';
const HAPROXY_CPU = 'HAProxy';
const HAPROXY_CACHED_CPU = 'HAProxy (limit + cache)';
const EXPRESS_GATEWAY_CPU = 'express-gateway';
const CRM_CPU = 'CRM sim';
/** Issue 16's targets for the cached read. */
const RPS_VS_NGINX = 1.0;
const RPS_VS_EXPRESS_GATEWAY = 5;
const CPU_TARGET_US = 100;
const P99_TARGET_MS = 15;

function compare(summaries: Summaries): Comparison[] {
  const gateway = summaries.get(GATEWAY);
  const nginx = summaries.get(NGINX);
  const one = summaries.get(GATEWAY_ONE);
  const rows = [
    comparison('req/s, gateway (cache hit) / nginx', ratio(gateway?.reqPerSec, nginx?.reqPerSec)),
    comparison('p99, gateway (cache hit) / nginx', ratio(gateway?.p99Ms, nginx?.p99Ms)),
    comparison('CPU per request, gateway / nginx worker', ratio(gateway?.cpuMicrosPerRequest[GATEWAY_CPU], nginx?.cpuMicrosPerRequest[NGINX_CPU])),
    comparison('CPU per request, gateway / (nginx worker + CRM sim), the whole native path', ratio(gateway?.cpuMicrosPerRequest[GATEWAY_CPU], (nginx?.cpuMicrosPerRequest[NGINX_CPU] ?? Number.NaN) + (nginx?.cpuMicrosPerRequest[CRM_CPU] ?? Number.NaN))),
  ];
  const haproxy = summaries.get(HAPROXY);
  const cached = summaries.get(HAPROXY_CACHED);
  const eg = summaries.get(EXPRESS_GATEWAY);
  if (haproxy) rows.push(comparison('req/s, gateway (cache hit) / HAProxy plain proxy', ratio(gateway?.reqPerSec, haproxy.reqPerSec)));
  if (cached) {
    rows.push(
      comparison('req/s, gateway (cache hit) / HAProxy (per-key limit + cache hit): the gap to the native cached path', ratio(gateway?.reqPerSec, cached.reqPerSec)),
      comparison('CPU per request, gateway / HAProxy (per-key limit + cache hit)', ratio(gateway?.cpuMicrosPerRequest[GATEWAY_CPU], cached.cpuMicrosPerRequest[HAPROXY_CACHED_CPU])),
    );
  }
  if (eg) {
    rows.push(
      comparison('req/s, gateway (cache hit) / express-gateway plain proxy', ratio(gateway?.reqPerSec, eg.reqPerSec)),
      comparison('CPU per request, gateway / express-gateway', ratio(gateway?.cpuMicrosPerRequest[GATEWAY_CPU], eg.cpuMicrosPerRequest[EXPRESS_GATEWAY_CPU])),
    );
  }
  for (const [label, s] of [
    ['50 connections', gateway],
    ['1 connection', one],
  ] as const) {
    if (!s) continue;
    const writes = s.countersPerRequest['redis.writes'];
    rows.push(
      comparison(`cache hit, ${label}: Redis round trips (gateway writes) per request`, writes === undefined ? 'n/a' : writes.toFixed(2)),
      comparison(`cache hit, ${label}: Redis commands per request (INFO commandstats)`, commandsPerRequest(s.countersPerRequest).text),
    );
  }
  if (one) rows.push(comparison('cache hit, 1 connection: p50 / p99', `${one.p50Ms.toFixed(3)} ms / ${one.p99Ms.toFixed(3)} ms`));
  return rows;
}

/** The gateway rows must have been cache hits: they cost the CRM next to nothing per request. */
function validate(summaries: Summaries): string[] {
  const viaGateway = summaries.get(GATEWAY)?.cpuMicrosPerRequest[CRM_CPU];
  const viaNginx = summaries.get(NGINX)?.cpuMicrosPerRequest[CRM_CPU];
  if (viaGateway === undefined || viaNginx === undefined || viaNginx <= 0) return [];
  if (viaGateway <= viaNginx * 0.1) return [];
  return [`gateway requests cost the CRM ${Math.round(viaGateway)} µs each (nginx's: ${Math.round(viaNginx)}): they were not cache hits`];
}

function targets(summaries: Summaries): TargetResult[] {
  const gateway = summaries.get(GATEWAY);
  const rps = gateway?.reqPerSec;
  const over = (other: string): number | undefined => {
    const r = summaries.get(other)?.reqPerSec;
    return rps !== undefined && r !== undefined && r > 0 ? rps / r : undefined;
  };
  const times = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(2)}×`);
  const vsNginx = over(NGINX);
  const rows = [target(`cached gateway ≥ ${RPS_VS_NGINX}× nginx's req/s`, vsNginx, times(vsNginx), (v) => v >= RPS_VS_NGINX)];
  if (summaries.has(EXPRESS_GATEWAY)) {
    const vsEg = over(EXPRESS_GATEWAY);
    rows.push(target(`cached gateway ≥ ${RPS_VS_EXPRESS_GATEWAY}× express-gateway's req/s`, vsEg, times(vsEg), (v) => v >= RPS_VS_EXPRESS_GATEWAY));
  }
  const cpu = gateway?.cpuMicrosPerRequest[GATEWAY_CPU];
  rows.push(target(`cached gateway CPU ≤ ${CPU_TARGET_US} µs/request`, cpu, cpu === undefined ? 'n/a' : `${Math.round(cpu)} µs`, (v) => v <= CPU_TARGET_US));
  const p99 = gateway?.p99Ms;
  rows.push(target(`cached gateway p99 ≤ ${P99_TARGET_MS} ms at ${'50'} connections`, p99, p99 === undefined ? 'n/a' : `${p99.toFixed(1)} ms`, (v) => v <= P99_TARGET_MS));
  return rows;
}

export const cacheVsNginx: Scenario = {
  name: 'cache-vs-nginx',
  description: 'GET /v1/orders/{id} answered from the gateway\'s cache (key-auth, quota and cache in Redis) vs nginx 1 worker proxying GET /crm/orders/{id} to the CRM simulator (CRM latency 0, keep-alive upstream, no nginx cache).',
  async prepare({ group, settings, log }): Promise<PreparedScenario> {
    const redis = await benchRedis(group);
    const pinning = pinServersApartFromLoad(group);
    const notes: string[] = [
      pinning
        ? `Every server child (gateway, CRM and MES simulators, nginx, HAProxy, express-gateway) pinned to CPU ${pinning.servers} with \`taskset -c\`, the harness (the load generator) to CPU ${pinning.loadGenerator}, as the issue's reference run (servers on one core, wrk on the other): req/s is what one core of each server does. The benchmark's Redis is not a child and is not pinned.`
        : 'Not pinned (one CPU, or no taskset): every process shares the CPUs.',
    ];
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const withHaproxy = haproxyAvailable();
    if (!withHaproxy) notes.push(`HAProxy rows skipped: no ${HAPROXY_BINARY} on this machine (apt-get install haproxy).`);
    // express-gateway: installed on first use, except in smoke runs (no npm install there unless BENCH_EXPRESS_GATEWAY=on).
    const wantEg = process.env.BENCH_EXPRESS_GATEWAY !== 'off' && (settings.mode === 'full' || process.env.BENCH_EXPRESS_GATEWAY === 'on');
    const eg = wantEg ? await ensureExpressGateway() : { ok: false as const, reason: 'not run in smoke mode (BENCH_EXPRESS_GATEWAY=on runs it)' };
    if (!eg.ok) {
      notes.push(`express-gateway row skipped: ${eg.reason}.`);
      log(`cache-vs-nginx: express-gateway skipped (${eg.reason})`);
    }
    const [gateway, nginx, haproxy, haproxyCached, expressGateway] = await Promise.all([
      startGateway(group, { crm, mes }, { config: [unlimitedQuotaFor(SELLER.id), sheddingOutOfReach()], env: { REDIS_URL: BENCH_REDIS_URL } }),
      startNginxProxy(group, crm),
      withHaproxy ? startHaproxy(group, crm, { name: 'haproxy' }) : undefined,
      withHaproxy ? startHaproxy(group, crm, { name: 'haproxy-cached', limitAndCache: { perSecond: 1_000_000_000, cacheMaxAgeSec: 5 } }) : undefined,
      eg.ok ? startExpressGateway(group, crm) : undefined,
    ]);
    const request = { url: `${gateway.url}/v1/orders/${ORDER_ID}`, headers: { 'x-api-key': SELLER.key } };
    const tally = { header: 'cache-status', normalise: cacheStatusKind };
    const variants: RequestVariant[] = [
      { name: GATEWAY, description: `GET /v1/orders/${ORDER_ID} on the gateway, X-API-Key of ${SELLER.id}, answered from the cache`, request, tally },
      { name: NGINX, description: `GET /crm/orders/${ORDER_ID} on nginx, proxied to the CRM simulator`, request: { url: `${nginx.url}/crm/orders/${ORDER_ID}` } },
    ];
    const cpu: CpuProbe[] = [
      { label: GATEWAY_CPU, pid: gateway.process.pid },
      { label: NGINX_CPU, pid: nginx.workerPid },
    ];
    if (haproxy && haproxyCached) {
      variants.push(
        { name: HAPROXY, description: `GET /crm/orders/${ORDER_ID} on HAProxy (plain proxy), proxied to the CRM simulator`, request: { url: `${haproxy.url}/crm/orders/${ORDER_ID}` } },
        {
          name: HAPROXY_CACHED,
          description: `GET /crm/orders/${ORDER_ID} on HAProxy with a per-X-API-Key stick-table rate limit (out of reach) and its cache (5 s): answered from its cache`,
          request: { url: `${haproxyCached.url}/crm/orders/${ORDER_ID}`, headers: { 'x-api-key': SELLER.key } },
          tally: { header: 'x-cache-status' },
        },
      );
      cpu.push({ label: HAPROXY_CPU, pid: haproxy.serverPid }, { label: HAPROXY_CACHED_CPU, pid: haproxyCached.serverPid });
    }
    if (expressGateway) {
      variants.push({ name: EXPRESS_GATEWAY, description: `GET /crm/orders/${ORDER_ID} on express-gateway ${EXPRESS_GATEWAY_VERSION} (proxy policy only), proxied to the CRM simulator`, request: { url: `${expressGateway.url}/crm/orders/${ORDER_ID}` } });
      cpu.push({ label: EXPRESS_GATEWAY_CPU, pid: expressGateway.process.pid });
    }
    variants.push({
      name: GATEWAY_ONE,
      description: 'the gateway\'s cache hit again on 1 connection: one request at a time, so the Redis round trips counted are those on a request\'s own path',
      request,
      load: { connections: 1 },
      tally,
      warmupS: 0,
    });
    cpu.push({ label: CRM_CPU, pid: crm.process.pid }, ...(await redisCpuProbe(redis)));
    return {
      variants,
      cpu,
      counters: [redisProbe(redis, gateway.process.pid)],
      notes: [
        `Gateway: pipeline \`sellerReads\` of gateway.config.yml at the commit measured, cache step included (key-auth → cache → load-shed → quota → validate → proxy; fresh 5 s, then stale-while-revalidate: about every 5 s one request refreshes the entry from the CRM), NODE_ENV=production, LOG_LEVEL=warn, REDIS_URL=${BENCH_REDIS_URL} (cache entries and quota counters in Redis), with two edits in a derived config: ${SELLER.id}'s plan (${SELLER.plan}) raised out of reach (the quota counts in Redis, never answers 429), and load shedding on with its limits out of reach (it runs, never answers 503: a saturating closed loop is overload by design, and shedding is measured in overload-shedding).`,
        ...notes,
        `nginx ${'1.22'} (Debian's /usr/sbin/nginx) started by the harness with its own config in a temporary prefix: \`worker_processes 1\`, \`access_log off\`, an upstream block with \`keepalive 64\` (HTTP/1.1, \`Connection: ""\`), keepalive_requests 1,000,000 on both sides, no proxy cache, default buffering. Its CPU column is the worker process's (the master only supervises).`,
        'The two paths do different work on purpose, as the issue asks: the gateway answers from Redis without calling the CRM; nginx calls the CRM for every request. CPU per request is shown for nginx\'s worker alone and with the CRM simulator it needs.',
        'Where a cache hit\'s time goes: the gateway\'s Redis round trips are its own TCP writes to Redis (data segments of its sockets, read with `ss` before and after each measurement); at 50 connections the commands of concurrent requests share writes (ioredis auto-pipelining), on 1 connection they are the round trips on one request\'s path. Commands come from INFO commandstats (server-wide, and counting the commands inside Lua scripts: rate-limiter-flexible\'s script runs SET NX, INCRBY and PTTL per EVALSHA).',
        'The run fails if the gateway\'s requests cost the CRM more than 10% of what nginx\'s do (they were not cache hits).',
        'HAProxy 2.6 (Debian\'s /usr/sbin/haproxy), one process, `nbthread 1`, in the foreground (`-db`), config generated by the harness (loadtests/bench/haproxy-service.ts): keep-alive on both sides (`http-reuse always`). Plain proxy: nothing else. Limit + cache: `http-request track-sc0 req.hdr(x-api-key)` into a stick-table storing `http_req_rate(1s)`, a `deny 429` rule above 1,000,000,000 per second (it runs, never refuses), then `cache-use`/`cache-store` of a 16 MB cache with max-age 5 s (the backend marks the CRM\'s answers `cache-control: max-age=5`: the CRM sends no caching headers) (the row\'s `x-cache-status` tally shows the hits). Its CPU column is the HAProxy process\'s.',
        `express-gateway ${EXPRESS_GATEWAY_VERSION} (the design card's original choice) from npm, installed by the harness into .tmp/express-gateway (not a dependency of Facet), one process, one pipeline with only its proxy policy, its Redis emulated in memory, NODE_ENV=production.`,
      ],
      compare,
      validate,
      targets,
    };
  },
};
