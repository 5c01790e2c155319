// The system under test, one child process per part: the CRM and MES
// simulators and the gateway, each on free loopback ports. Scenarios call
// these with their own environment (e.g. a gateway with tracing on).

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { writeGatewayConfig } from './gateway-config.ts';
import type { ConfigEdit } from './gateway-config.ts';
import { freePort } from './ports.ts';
import { childPids, waitReady } from './processes.ts';
import type { ChildHandle, ProcessGroup } from './processes.ts';

const ROOT_URL = new URL('../../', import.meta.url);
export const REPO_ROOT = fileURLToPath(ROOT_URL);
const HOST = '127.0.0.1';
/** Any 32+ character secret; the gateway verifies operator tokens with it, operatorToken() signs them. */
const BENCH_JWT_SECRET = 'facet-bench-jwt-secret-not-for-production-use';

/**
 * The Redis the gateway uses when a scenario asks for one: the local server,
 * logical database 9 (BENCH_REDIS_URL overrides), so the benchmark's quota
 * counters and cache entries never mix with those of the test suites and of
 * `npm start`, which use database 0. Pub/sub channels are server-wide: a
 * cache generation bump published by another gateway reaches this one too
 * (it then misses once and refills).
 */
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/9';

/** `url` with its logical database replaced by `db`. */
function withDatabase(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.href;
}

/**
 * The notification scenarios' Redis: a database of their own on the same
 * server (10; BENCH_NOTIFY_REDIS_URL overrides). The operators' feed is one
 * Redis stream per database (facet:{orderfeed}:stream) that every gateway of
 * the database appends to and tails: in database 9, the status events of
 * order-writes' saga would reach the SSE clients being measured, and theirs
 * order-writes' gateway.
 */
export const BENCH_NOTIFY_REDIS_URL = process.env.BENCH_NOTIFY_REDIS_URL || withDatabase(BENCH_REDIS_URL, 10);

export interface Service {
  readonly name: string;
  /** Base URL of the API port, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Base URL of the admin port (simulators: /_sim/faults), when there is one. */
  readonly adminUrl?: string;
  readonly process: ChildHandle;
}

async function startService(
  group: ProcessGroup,
  name: string,
  script: string,
  port: number,
  env: Record<string, string>,
  adminPort?: number,
  nodeArgs?: string[],
  readyPath = '/healthz',
): Promise<Service> {
  const url = `http://${HOST}:${port}`;
  const handle = group.spawn({ name, script: fileURLToPath(new URL(script, ROOT_URL)), env, cwd: REPO_ROOT, ...(nodeArgs ? { nodeArgs } : {}) });
  await waitReady(handle, `${url}${readyPath}`);
  return adminPort === undefined ? { name, url, process: handle } : { name, url, adminUrl: `http://${HOST}:${adminPort}`, process: handle };
}

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

/** An operator's bearer token for the gateway's jwt-auth (HS256, role operator), valid for two hours. */
export async function operatorToken(subject = 'facet-bench'): Promise<string> {
  return new SignJWT({ role: 'operator' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(BENCH_JWT_SECRET));
}

/** A client of the benchmark's Redis database (or of `url`), closed when the group stops. */
export async function benchRedis(group: ProcessGroup, url = BENCH_REDIS_URL): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(`this scenario needs Redis at ${url} (${url === BENCH_REDIS_URL ? 'BENCH_REDIS_URL' : 'BENCH_NOTIFY_REDIS_URL'}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  group.onStop(() => redis.disconnect());
  return redis;
}

/** Deletes the gateway's quota counters of `sellers` in the benchmark's database, so a scenario starts with full windows. */
export async function resetQuotaCounters(redis: Redis, sellers: readonly string[]): Promise<void> {
  const keys = sellers.flatMap((seller) => ['rate', 'burst', 'daily'].map((window) => `facet:q:${window}:${seller}`));
  if (keys.length > 0) await redis.del(...keys);
}

/** Deletes the keys matching `pattern` in the benchmark's database (only there); returns how many. */
export async function deleteBenchKeys(redis: Redis, pattern: string): Promise<number> {
  if (!pattern.startsWith('facet:')) throw new Error(`refusing to delete keys outside facet: (${pattern})`);
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

export const NGINX_BINARY = process.env.BENCH_NGINX || '/usr/sbin/nginx';

export interface NginxService extends Service {
  /** The worker process (worker_processes 1): the one whose CPU is the proxy's. */
  readonly workerPid: number;
}

/**
 * nginx as a plain reverse proxy to `upstream` (no cache, no buffering to
 * disk): one worker, keep-alive to the upstream, in a temporary prefix dir
 * that holds its config, pid file and error log.
 */
export async function startNginxProxy(group: ProcessGroup, upstream: Service): Promise<NginxService> {
  if (!existsSync(NGINX_BINARY)) throw new Error(`nginx not found at ${NGINX_BINARY} (apt-get install nginx-light, or set BENCH_NGINX)`);
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), 'facet-bench-nginx-'));
  group.onStop(() => rmSync(prefix, { recursive: true, force: true }));
  const upstreamAddress = new URL(upstream.url).host;
  const runningAsRoot = process.getuid?.() === 0;
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `# Generated by loadtests/bench (stack.ts): nginx as the native reverse-proxy reference.
${runningAsRoot ? 'user nobody nogroup;\n' : ''}worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  upstream crm {
    server ${upstreamAddress};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen ${HOST}:${port};
    location / {
      proxy_pass http://crm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const handle = group.spawn({
    name: 'nginx',
    script: fileURLToPath(new URL('./nginx-child.ts', import.meta.url)),
    args: [NGINX_BINARY, prefix],
    env: {},
    cwd: prefix,
  });
  const url = `http://${HOST}:${port}`;
  await waitReady(handle, `${url}/healthz`);
  // The wrapper's child is the nginx master; the master's child is the worker.
  let workerPid: number | undefined;
  for (let i = 0; i < 50 && workerPid === undefined; i++) {
    const master = childPids(handle.pid)[0];
    workerPid = master === undefined ? undefined : childPids(master)[0];
    if (workerPid === undefined) await sleep(100);
  }
  if (workerPid === undefined) throw new Error(`nginx started but its worker process was not found under pid ${handle.pid}`);
  return { name: 'nginx', url, process: handle, workerPid };
}

export interface GatewayUpstreams {
  crm: Pick<Service, 'url'>;
  mes: Pick<Service, 'url'>;
}

/**
 * CRM and MES URLs for a process whose path under test calls neither (the
 * notification scenarios): a loopback port nothing listens on, so a call
 * fails at once instead of loading simulators that have no part in the
 * measurement (the gateway's dashboard refresh-ahead still tries every 8 s).
 */
export async function unreachableUpstreams(): Promise<GatewayUpstreams> {
  const url = `http://${HOST}:${await freePort()}`;
  return { crm: { url }, mes: { url } };
}

export interface GatewayOptions {
  /** Edits to a copy of gateway.config.yml (see gateway-config.ts); none = the file as it is. */
  config?: readonly ConfigEdit[];
  env?: Record<string, string>;
  /** Node options for the gateway child only, e.g. TRACING_NODE_ARGS. */
  nodeArgs?: string[];
  /** Child name (CPU column, error messages); default "gateway". */
  name?: string;
}

/** What `npm start` puts before the entry script to trace a process (platform/telemetry/register.ts). */
export const TRACING_NODE_ARGS: readonly string[] = ['--import', './platform/telemetry/register.ts'];

/** The gateway as production runs it: NODE_ENV=production, no Redis/AMQP unless `env` says so. */
export async function startGateway(group: ProcessGroup, upstreams: GatewayUpstreams, options: GatewayOptions = {}): Promise<Service> {
  const port = await freePort();
  const configFile = options.config?.length ? writeGatewayConfig(group, REPO_ROOT, options.config) : join(REPO_ROOT, 'gateway.config.yml');
  return startService(group, options.name ?? 'gateway', 'entries/gateway.ts', port, {
    GATEWAY_CONFIG: configFile,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST,
    CRM_URL: upstreams.crm.url,
    MES_URL: upstreams.mes.url,
    JWT_SECRET: BENCH_JWT_SECRET,
    REDIS_URL: '',
    AMQP_URL: '',
    LOG_LEVEL: 'warn',
    ...options.env,
  }, undefined, options.nodeArgs ? [...options.nodeArgs] : undefined);
}

/**
 * The CRM/MES adapters and the order saga as their own process (`node
 * adapters/main.ts`, as `npm run adapters` without tracing), ready when its
 * ops server's /readyz says the bus (and Redis, with REDIS_URL) are up.
 * `env` must give AMQP_URL and AMQP_PREFIX.
 */
export async function startAdapters(group: ProcessGroup, upstreams: GatewayUpstreams, env: Record<string, string>): Promise<Service> {
  // A port the harness picks, like every other child's, so it can poll /readyz.
  const port = await freePort();
  return startService(group, 'adapters', 'adapters/main.ts', port, {
    NODE_ENV: 'production',
    ADAPTERS_HTTP_PORT: String(port),
    ADAPTERS_HTTP_HOST: HOST,
    CRM_URL: upstreams.crm.url,
    MES_URL: upstreams.mes.url,
    LOG_LEVEL: 'warn',
    ...env,
  }, undefined, undefined, '/readyz');
}

export interface WebhookReceiverStats {
  /** POSTs received. */
  received: number;
  /** Of those, refused by the Standard Webhooks check (signature, timestamp). */
  badSignature: number;
  /** Signed, but without data.order_id. */
  unreadable: number;
  /** Deliveries noted (signed, with an order id): the index the next one gets in receipts(). */
  receipts: number;
}

export interface WebhookReceiver extends Service {
  /** The URL to subscribe. */
  readonly hookUrl: string;
  stats(): Promise<WebhookReceiverStats>;
  /** The deliveries from the `from`-th on: [order id, receipt time in monotonic µs], and the index to ask from next. */
  receipts(from: number): Promise<{ receipts: [string, number][]; next: number }>;
}

/** A seller's endpoint (webhook-receiver.ts) as a child: checks each delivery's signature with `secret`, notes when it arrived, answers 200. */
export async function startWebhookReceiver(group: ProcessGroup, secret: string): Promise<WebhookReceiver> {
  const port = await freePort();
  const handle = group.spawn({ name: 'webhook-receiver', script: fileURLToPath(new URL('./webhook-receiver.ts', import.meta.url)), args: [String(port), secret], env: {}, cwd: REPO_ROOT });
  const url = `http://${HOST}:${port}`;
  await waitReady(handle, `${url}/healthz`);
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`webhook receiver: GET ${path} answered ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    name: 'webhook-receiver',
    url,
    process: handle,
    hookUrl: `${url}/hook`,
    stats: () => get<WebhookReceiverStats>('/stats'),
    receipts: (from) => get<{ receipts: [string, number][]; next: number }>(`/receipts?from=${from}`),
  };
}

export interface OtlpSinkStats {
  /** POST /v1/traces requests received. */
  requests: number;
  /** Request bytes received (as sent, before any gunzip). */
  bytes: number;
  /** Spans counted in the OTLP protobuf payloads. */
  spans: number;
}

export interface OtlpSink extends Service {
  /** The endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) whose spans are counted under `name`. */
  endpoint(name: string): string;
  /** Counts by endpoint name (absent: nothing received there yet). */
  stats(): Promise<Record<string, OtlpSinkStats>>;
}

/** The harness's OTLP/HTTP trace sink (otlp-sink.ts) as a child: answers 200 to POST <endpoint>/v1/traces and counts what each endpoint got. */
export async function startOtlpSink(group: ProcessGroup): Promise<OtlpSink> {
  const port = await freePort();
  const handle = group.spawn({ name: 'otlp-sink', script: fileURLToPath(new URL('./otlp-sink.ts', import.meta.url)), args: [String(port)], env: {}, cwd: REPO_ROOT });
  const url = `http://${HOST}:${port}`;
  await waitReady(handle, `${url}/healthz`);
  return {
    name: 'otlp-sink',
    url,
    process: handle,
    endpoint: (name) => `${url}/${name}`,
    async stats() {
      const response = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5000) });
      return (await response.json()) as Record<string, OtlpSinkStats>;
    },
  };
}
