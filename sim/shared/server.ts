// Two Fastify apps per simulator: the API (subject to faults) and the admin
// port (faults control, never faulted). The API runs on our own http.Server
// (serverFactory) so the `down` fault can close and reopen its port.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { bulkhead, isBulkheadRejectedError } from 'cockatiel';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { registerFaultRoutes } from './admin-routes.ts';
import { installErrorHandlers } from './errors.ts';
import { FaultController } from './fault-controller.ts';
import type { Faults } from './faults.ts';
import { ApiListener } from './listener.ts';
import { STRICT_AJV } from './schemas.ts';
import { tagServer } from '../../platform/telemetry/api.ts';

export interface SimHandle {
  url: string;
  adminUrl: string;
  close(): Promise<void>;
}

export interface SimFaultsApi {
  get(): Faults;
  set(patch: Partial<Faults>): Promise<Faults>;
  reset(): Promise<Faults>;
}

export interface SimServerOptions {
  name: string;
  port: number;
  adminPort: number;
  host: string;
  faults?: Partial<Faults> | undefined;
  logger?: Logger | false | undefined;
  /** Base latency of one API request in ms (fault latency is added on top). */
  baseLatencyMs: (request: FastifyRequest) => number;
  /**
   * Requests the system works on at once (0: unbounded). Like a legacy
   * server's worker pool: an API request waits, first come first served, for
   * a free worker and holds it for its latency, so throughput is capped at
   * workers ÷ latency and an overload turns into queueing delay. Past
   * WORKER_QUEUE waiting requests it answers 503 (its accept queue is full).
   */
  workers?: number;
  registerApi: (app: FastifyInstance) => void | Promise<void>;
  bodyLimit?: number;
  /** Runs after both servers are closed. */
  onClose?: () => void | Promise<void>;
}

/** API requests received, by method and route pattern (tests count upstream calls with it). */
export class RequestCounter {
  readonly byRoute = new Map<string, number>();
  total = 0;
  count(key: string): void {
    this.total++;
    this.byRoute.set(key, (this.byRoute.get(key) ?? 0) + 1);
  }
  get(key: string): number {
    return this.byRoute.get(key) ?? 0;
  }
  reset(): void {
    this.total = 0;
    this.byRoute.clear();
  }
}

export interface SimServer extends SimHandle {
  api: FastifyInstance;
  admin: FastifyInstance;
  faults: SimFaultsApi;
  requests: RequestCounter;
}

/** Requests that may wait for a worker (see SimServerOptions.workers). */
export const WORKER_QUEUE = 10_000;

type RouteKind = 'control' | 'health' | 'api';

function routeKind(url: string): RouteKind {
  const path = url.split('?', 1)[0] ?? '';
  if (path === '/_sim' || path.startsWith('/_sim/')) return 'control';
  if (path === '/healthz') return 'health';
  return 'api';
}

function baseUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function fastifyOptions(logger: Logger | false | undefined): { loggerInstance?: FastifyBaseLogger; logger?: false } {
  return logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false };
}

export async function createSimServer(options: SimServerOptions): Promise<SimServer> {
  let apiServer: Server | undefined;
  const api = Fastify({
    ...fastifyOptions(options.logger ? options.logger.child({ sim: options.name, port: 'api' }) : false),
    bodyLimit: options.bodyLimit ?? 1_048_576,
    ajv: STRICT_AJV,
    serverFactory: (handler) => {
      apiServer = createServer(handler);
      return apiServer;
    },
  });
  if (!apiServer) throw new Error('fastify did not create the API server');
  // Its server spans say which simulator answered (npm start runs both next to the gateway).
  tagServer(apiServer, options.name === 'mes' ? 'mes-sim' : 'crm-sim');
  const listener = new ApiListener(apiServer, options.host);
  const faults = new FaultController(listener, options.faults);
  const closing = new AbortController();

  installErrorHandlers(api);
  const workerPool = options.workers ? bulkhead(options.workers, WORKER_QUEUE) : undefined;
  const requests = new RequestCounter();
  api.addHook('onRequest', async (request) => {
    if (routeKind(request.url) === 'api') requests.count(`${request.method} ${request.routeOptions.url ?? request.url}`);
  });
  // Faults, in order: hang (also /healthz), then latency, then error_rate.
  // /_sim/* is never faulted; `down` needs no hook (the port is closed).
  api.addHook('onRequest', async (request, reply) => {
    const kind = routeKind(request.url);
    if (kind === 'control') return;
    if (faults.get().hang && !(await faults.hang.wait(request.raw.socket))) {
      reply.hijack();
      return;
    }
    if (kind === 'health') return;
    const current = faults.get();
    const delay = options.baseLatencyMs(request) + current.latency_ms;
    if (delay > 0 || workerPool) {
      const work = (): Promise<void> => sleep(delay, undefined, { signal: closing.signal });
      try {
        await (workerPool ? workerPool.execute(work, closing.signal) : work());
      } catch (error) {
        if (isBulkheadRejectedError(error)) return reply.code(503).send({ error: 'all workers busy and the queue is full' });
        reply.hijack();
        return;
      }
    }
    if (current.error_rate > 0 && Math.random() < current.error_rate) {
      return reply.code(500).send({ error: 'simulated failure' });
    }
  });
  api.get('/healthz', async () => ({ status: 'ok' }));
  registerFaultRoutes(api, faults, true);
  await options.registerApi(api);
  await api.ready();

  const admin = Fastify(fastifyOptions(options.logger ? options.logger.child({ sim: options.name, port: 'admin' }) : false));
  installErrorHandlers(admin);
  admin.get('/healthz', async () => ({ status: 'ok', api_up: listener.isUp, faults: faults.get() }));
  registerFaultRoutes(admin, faults, false);

  await listener.listen(options.port);
  try {
    await admin.listen({ port: options.adminPort, host: options.host });
  } catch (error) {
    listener.close();
    await api.close();
    throw error;
  }
  // Listen first even when starting down, so port 0 resolves to a real port.
  if (faults.get().down) listener.down();

  let closed: Promise<void> | undefined;
  return {
    url: baseUrl(options.host, listener.port),
    adminUrl: baseUrl(options.host, (admin.server.address() as { port: number }).port),
    api,
    admin,
    requests,
    faults: {
      get: () => faults.get(),
      set: (patch) => faults.set(patch),
      reset: () => faults.reset(),
    },
    close() {
      closed ??= (async () => {
        closing.abort();
        faults.hang.release(false);
        listener.close();
        await Promise.all([api.close(), admin.close()]);
        await options.onClose?.();
      })();
      return closed;
    },
  };
}
