// The adapters process's HTTP side, for probes and Prometheus only:
//   GET /healthz  the process is alive (200)
//   GET /readyz   200 when the bus is connected and Redis (if used) is ready,
//                 else 503; JSON with each dependency's state
//   GET /metrics  the process's registry (OpenMetrics on request, exposition.ts)
// node:http, not Fastify: three fixed routes, no body, nothing to validate.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { renderMetrics } from '../platform/metrics/exposition.ts';
import type { Bus } from '../platform/bus/types.ts';

/** ioredis' `status` is 'ready' when commands can run. */
export interface RedisLike {
  readonly status: string;
}

export interface OpsServerOptions {
  bus: Bus;
  redis?: RedisLike | undefined;
  /** Redis is used but not handed over yet (still connecting): reported down until watchRedis(). */
  expectRedis?: boolean;
  registry: Registry;
  port: number;
  host?: string;
}

export interface DependencyState {
  status: 'up' | 'down';
  detail?: string;
}

export interface OpsServer {
  readonly server: Server;
  /** http://host:port, with the port actually bound (for port 0). */
  readonly url: string;
  /** Marks the process as stopping: /readyz answers 503 from now on. */
  draining(): void;
  /** Redis as it became available (undefined: not used after all). */
  watchRedis(redis: RedisLike | undefined): void;
  close(): Promise<void>;
}

export function readiness(bus: Bus, redis: RedisLike | 'connecting' | undefined, draining: boolean): { ready: boolean; body: object } {
  const checks: Record<string, DependencyState> = {
    bus: bus.connected ? { status: 'up', detail: bus.kind } : { status: 'down', detail: `${bus.kind} not connected` },
  };
  if (redis === 'connecting') checks.redis = { status: 'down', detail: 'connecting' };
  else if (redis) checks.redis = redis.status === 'ready' ? { status: 'up' } : { status: 'down', detail: redis.status };
  const ready = !draining && Object.values(checks).every((c) => c.status === 'up');
  return { ready, body: { status: draining ? 'draining' : ready ? 'ready' : 'not_ready', checks } };
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  let draining = false;
  let redis: RedisLike | 'connecting' | undefined = options.redis ?? (options.expectRedis ? 'connecting' : undefined);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { status: 'method_not_allowed' });
    switch (path) {
      case '/healthz':
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz': {
        const { ready, body } = readiness(options.bus, redis, draining);
        return sendJson(res, ready ? 200 : 503, body);
      }
      case '/metrics': {
        const accept = req.headers.accept;
        const { contentType, body } = await renderMetrics(options.registry, accept);
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      default:
        return sendJson(res, 404, { status: 'not_found' });
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { status: 'error' });
      else res.destroy();
    });
  });
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    draining: () => {
      draining = true;
    },
    watchRedis: (r) => {
      redis = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
