// A cache hit against the native proxy reference (issue 4): GET
// /v1/orders/{id} answered from the gateway's Redis cache (key-auth, quota
// in Redis and the cache lookup all run) vs nginx proxying GET
// /crm/orders/{id} to the CRM simulator over keep-alive (nginx caches
// nothing: it is what a plain native proxy costs). Target: the cached
// gateway at ≥ 0.5× nginx's req/s. Also: where a cache hit's time goes,
// counted as Redis commands and round trips per request.

import { sheddingOutOfReach, unlimitedQuotaFor } from '../gateway-config.ts';
import { startGateway } from '../gateway-service.ts';
import { startNginxProxy } from '../nginx-service.ts';
import { BENCH_REDIS_URL, benchRedis } from '../redis.ts';
import { startCrm, startMes } from '../simulator-services.ts';
import { cacheStatusKind, commandsPerRequest, comparison, ORDERS, ratio, redisCpuProbe, redisProbe, SELLERS, target } from './common.ts';
import type { Comparison, PreparedScenario, Scenario, Summaries, TargetResult } from './types.ts';

const SELLER = SELLERS.standard;
const ORDER_ID = ORDERS.slr_0002;
const GATEWAY = 'gateway, cache hit';
const NGINX = 'nginx → CRM';
const GATEWAY_ONE = 'gateway, cache hit, 1 connection';
const GATEWAY_CPU = 'gateway';
const NGINX_CPU = 'nginx worker';
const CRM_CPU = 'CRM sim';
const RPS_TARGET = 0.5;

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
  const gateway = summaries.get(GATEWAY)?.reqPerSec;
  const nginx = summaries.get(NGINX)?.reqPerSec;
  const r = gateway !== undefined && nginx !== undefined && nginx > 0 ? gateway / nginx : undefined;
  return [target(`cached gateway ≥ ${RPS_TARGET}× nginx's req/s`, r, r === undefined ? 'n/a' : `${r.toFixed(2)}×`, (v) => v >= RPS_TARGET)];
}

export const cacheVsNginx: Scenario = {
  name: 'cache-vs-nginx',
  description: 'GET /v1/orders/{id} answered from the gateway\'s cache (key-auth, quota and cache in Redis) vs nginx 1 worker proxying GET /crm/orders/{id} to the CRM simulator (CRM latency 0, keep-alive upstream, no nginx cache).',
  async prepare({ group }): Promise<PreparedScenario> {
    const redis = await benchRedis(group);
    const [crm, mes] = await Promise.all([startCrm(group), startMes(group)]);
    const [gateway, nginx] = await Promise.all([
      startGateway(group, { crm, mes }, { config: [unlimitedQuotaFor(SELLER.id), sheddingOutOfReach()], env: { REDIS_URL: BENCH_REDIS_URL } }),
      startNginxProxy(group, crm),
    ]);
    const request = { url: `${gateway.url}/v1/orders/${ORDER_ID}`, headers: { 'x-api-key': SELLER.key } };
    const tally = { header: 'cache-status', normalise: cacheStatusKind };
    return {
      variants: [
        { name: GATEWAY, description: `GET /v1/orders/${ORDER_ID} on the gateway, X-API-Key of ${SELLER.id}, answered from the cache`, request, tally },
        { name: NGINX, description: `GET /crm/orders/${ORDER_ID} on nginx, proxied to the CRM simulator`, request: { url: `${nginx.url}/crm/orders/${ORDER_ID}` } },
        {
          name: GATEWAY_ONE,
          description: 'the gateway\'s cache hit again on 1 connection: one request at a time, so the Redis round trips counted are those on a request\'s own path',
          request,
          load: { connections: 1 },
          tally,
          warmupS: 0,
        },
      ],
      cpu: [
        { label: GATEWAY_CPU, pid: gateway.process.pid },
        { label: NGINX_CPU, pid: nginx.workerPid },
        { label: CRM_CPU, pid: crm.process.pid },
        ...(await redisCpuProbe(redis)),
      ],
      counters: [redisProbe(redis, gateway.process.pid)],
      notes: [
        `Gateway: pipeline \`sellerReads\` of gateway.config.yml at the commit measured, cache step included (key-auth → cache → load-shed → quota → validate → proxy; fresh 5 s, then stale-while-revalidate: about every 5 s one request refreshes the entry from the CRM), NODE_ENV=production, LOG_LEVEL=warn, REDIS_URL=${BENCH_REDIS_URL} (cache entries and quota counters in Redis), with two edits in a derived config: ${SELLER.id}'s plan (${SELLER.plan}) raised out of reach (the quota counts in Redis, never answers 429), and load shedding on with its limits out of reach (it runs, never answers 503: a saturating closed loop is overload by design, and shedding is measured in overload-shedding).`,
        `nginx ${'1.22'} (Debian's /usr/sbin/nginx) started by the harness with its own config in a temporary prefix: \`worker_processes 1\`, \`access_log off\`, an upstream block with \`keepalive 64\` (HTTP/1.1, \`Connection: ""\`), keepalive_requests 1,000,000 on both sides, no proxy cache, default buffering. Its CPU column is the worker process's (the master only supervises).`,
        'The two paths do different work on purpose, as the issue asks: the gateway answers from Redis without calling the CRM; nginx calls the CRM for every request. CPU per request is shown for nginx\'s worker alone and with the CRM simulator it needs.',
        'Where a cache hit\'s time goes: the gateway\'s Redis round trips are its own TCP writes to Redis (data segments of its sockets, read with `ss` before and after each measurement); at 50 connections the commands of concurrent requests share writes (ioredis auto-pipelining), on 1 connection they are the round trips on one request\'s path. Commands come from INFO commandstats (server-wide, and counting the commands inside Lua scripts: rate-limiter-flexible\'s script runs SET NX, INCRBY and PTTL per EVALSHA).',
        'The run fails if the gateway\'s requests cost the CRM more than 10% of what nginx\'s do (they were not cache hits).',
      ],
      compare,
      validate,
      targets,
    };
  },
};
