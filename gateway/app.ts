// Assembles the gateway: Fastify with problem+json errors, request ids,
// logs, the routes built from the config's pipelines, health and docs.

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import replyFrom from '@fastify/reply-from';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { POLICIES } from '../policies/index.ts';
import type { PolicyMap, ValidatedConfig } from './config/validate.ts';
import type { GatewayConfig } from '../platform/pipeline/config.ts';
import { registerDocs } from './docs.ts';
import { registerPages } from './pages.ts';
import { FacetError } from '../platform/errors/facet-error.ts';
import { clientErrorHandler, installProblemHandlers, sendProblem } from '../platform/errors/problem.ts';
import { registerHealthRoutes, type HealthState } from './health.ts';
import { installHostRequired } from './host-required.ts';
import { installSecurityHeaders } from './security-headers.ts';
import { loggerOptions } from '../platform/logging.ts';
import { lazyChildLogger } from '../platform/request-logger.ts';
import { createRedis, type RedisClient, type RedisTarget } from '../platform/redis.ts';
import { consumeEvents } from './events.ts';
import { createBus, type Bus } from '../platform/bus/index.ts';
import { busMetricsFor } from '../platform/bus/metrics.ts';
import { renderMetrics } from '../platform/metrics/exposition.ts';
import { createMetrics, type GatewayMetrics } from '../platform/metrics/registry.ts';
import { CLIENT_CLOSED_STATUS, installRequestMetrics, isClosedByClient } from './metrics/request-metrics.ts';
import { buildRoutes } from './pipeline/build.ts';
import type { UrlPolicy } from '../platform/webhooks/url-guard.ts';
import { isInternalOperator } from '../platform/pipeline/internal-caller.ts';
import { kConsumer, kOperator } from '../platform/pipeline/request-state.ts';
import { tagServer, traceIdOfTraceparent, tracingEnabled } from '../platform/telemetry/api.ts';
import { closeConfigServices, createSharedServices, servicesFor, type GatewayServices, type SharedServices } from './services.ts';
import { RetainedObjects } from './retained.ts';
import { createPolicySet, sharedRedisTimeoutMs, type Injector, type PolicySet } from './policy-services.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface GatewayOptions {
  /** A pino logger, `false` for silence; default JSON logs to stdout. */
  logger?: FastifyBaseLogger | false;
  /** Shared state (quotas, cache, write records). Without it, in-process stores. */
  redisUrl?: string | undefined;
  /** The same, in any topology (Cluster, Sentinel); wins over redisUrl. */
  redisTarget?: RedisTarget | undefined;
  /** The message bus (commands out, events in); default: RabbitMQ at amqpUrl, else in process. */
  bus?: Bus;
  amqpUrl?: string | undefined;
  /** The registry /metrics serves; pass one to share it with in-process adapters and their bus. */
  metrics?: GatewayMetrics;
  /** SSRF rules for webhook URLs; default from NODE_ENV and WEBHOOKS_ALLOW_LOOPBACK. */
  webhookPolicy?: UrlPolicy;
  /** Told of every route as it is added (tests compare the routes with the specs). */
  onRoute?: (route: { method: string | string[]; url: string }) => void;
  /** The policies pipelines can name; default: every policy in policies/. The config must have been validated with the same. */
  policies?: PolicyMap;
  /** The bundled pages (scripts/build-ui.ts); default ui/dist/. */
  uiDir?: string;
}

export interface Gateway {
  app: FastifyInstance;
  services: GatewayServices;
  /** The policies' host, settings and services. */
  policies: PolicySet;
  health: HealthState;
  /** Stops taking requests, lets in-flight ones finish, closes pools. */
  close(): Promise<void>;
}

/** `http.trustProxy` as Fastify takes it: a list of addresses/CIDRs, or false. */
function trustedProxies(setting: string): string[] | false {
  const list = setting
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  return list.length > 0 ? list : false;
}

const STATE_REDIS_TIMEOUT_MS = 2_000;

/**
 * What outlives one config: Redis clients, the bus, the metrics registry,
 * the shared services (state, webhooks, feed, order changes) and the
 * policies' retained objects. A reload builds a new generation on it.
 */
export interface GatewayBase {
  readonly options: GatewayOptions;
  readonly policyMap: PolicyMap;
  readonly redis: RedisClient | undefined;
  readonly stateRedis: RedisClient | undefined;
  readonly metrics: GatewayMetrics;
  readonly bus: Bus;
  readonly shared: SharedServices;
  readonly retained: RetainedObjects;
  /** Draining after SIGTERM: every generation answers 503 and /readyz says so. */
  readonly lifecycle: { draining: boolean };
}

export function createGatewayBase(config: GatewayConfig, options: GatewayOptions = {}): GatewayBase {
  const policyMap = options.policies ?? POLICIES;
  const redisTarget: RedisTarget | undefined = options.redisTarget ?? (options.redisUrl ? { kind: 'single', url: options.redisUrl } : undefined);
  // The Redis command timeouts are the first config's: a change needs a restart.
  const redis = redisTarget ? createRedis({ target: redisTarget, commandTimeoutMs: sharedRedisTimeoutMs(config, policyMap) }) : undefined;
  // The write path's records wait longer on Redis than quotas and the cache do (see ServiceDependencies).
  const stateRedis = redisTarget ? createRedis({ target: redisTarget, commandTimeoutMs: STATE_REDIS_TIMEOUT_MS }) : undefined;
  const metrics = options.metrics ?? createMetrics();
  // A bus passed in is instrumented by whoever created it.
  const bus = options.bus ?? createBus({ url: options.amqpUrl, metrics: busMetricsFor(metrics.registry) });
  const shared = createSharedServices(config, { redis, stateRedis, bus, metrics, ...(options.webhookPolicy && { webhookPolicy: options.webhookPolicy }) });
  return { options, policyMap, redis, stateRedis, metrics, bus, shared, retained: new RetainedObjects(), lifecycle: { draining: false } };
}

/** One config's gateway: its Fastify app, routes, policies' services, upstream pools and consumers. */
export interface Generation {
  app: FastifyInstance;
  services: GatewayServices;
  policies: PolicySet;
  health: HealthState;
  /** Stops the policies' timers, closes the app (not the shared server) and this config's upstream pools. */
  close(): Promise<void>;
}

export interface GenerationOptions {
  /** Hands Fastify's request handler to a server the caller owns (a reload swaps generations behind it). */
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
  /** The config's version and load time, for /readyz. */
  version?: { version: string; loadedAt: string };
}

export async function buildGeneration(validated: ValidatedConfig, base: GatewayBase, generationOptions: GenerationOptions = {}): Promise<Generation> {
  const { config, specs } = validated;
  const { options, metrics, lifecycle } = base;
  const services = servicesFor(config, specs, base.shared);
  const health: HealthState = {
    get draining() {
      return lifecycle.draining;
    },
    set draining(value: boolean) {
      lifecycle.draining = value;
    },
    probes: new Map(),
    ...(generationOptions.version && { config: generationOptions.version }),
  };

  const app = Fastify({
    ...(options.logger === undefined ? { logger: loggerOptions('facet-gateway') } : options.logger === false ? { logger: false } : { loggerInstance: options.logger }),
    ...(generationOptions.serverFactory && { serverFactory: generationOptions.serverFactory }),
    // One request line is written in onResponse, with route, plan and latency.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log made only when a request writes a line (platform/request-logger.ts).
    childLoggerFactory: lazyChildLogger,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    bodyLimit: config.http.bodyLimit,
    trustProxy: trustedProxies(config.http.trustProxy),
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler,
    // Checked by installHostRequired instead, to answer problem+json.
    http: { requireHostHeader: false },
    // Router-level rejections (undecodable URL, an overlong path segment) get problem+json too.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const problem = new FacetError('FACET_ERR_VALIDATION', {
        detail: tooLong ? 'A path segment is longer than 256 characters' : 'The URL cannot be decoded',
        errors: [{ field: 'path', message: tooLong ? 'has a segment longer than 256 characters' : 'is not a valid URL' }],
      });
      reply.header('x-request-id', request.id);
      return sendProblem(request, reply, problem);
    },
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: false },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  });

  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  installProblemHandlers(app);
  installSecurityHeaders(app);
  installHostRequired(app);
  // Server spans of this app say `facet.component: gateway` (npm start runs the simulators in the same process).
  tagServer(app.server, 'gateway');
  // Model uploads arrive as raw streams and are piped on, never buffered.
  app.addContentTypeParser(['application/octet-stream', 'model/stl', 'model/obj', 'model/3mf'], (_request, payload, done) => done(null, payload));

  // The hooks every request runs are callbacks, not async functions: no promise per request and hook.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // Tracing off: the caller's trace id still goes into this request's log lines (tracing on: the pino mixin).
    if (!tracingEnabled() && request.headers.traceparent !== undefined) {
      const traceId = traceIdOfTraceparent(request.headers.traceparent);
      if (traceId) request.log = request.log.child({ trace_id: traceId });
    }
    if (health.draining) {
      reply.header('connection', 'close');
      return done(new FacetError('FACET_ERR_SHUTTING_DOWN', { headers: { 'retry-after': '1' } }));
    }
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    // While draining, answers close their connection so keep-alive clients move on.
    if (health.draining) reply.header('connection', 'close');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const consumer = request[kConsumer];
    // Not for refresh-ahead (the gateway's own request), nor for a request whose line was written with 499 when its client went away.
    if ((consumer !== undefined || !isInternalOperator(request[kOperator])) && !isClosedByClient(request)) {
      request.log.info(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status: reply.statusCode,
          latency_ms: Math.round(reply.elapsedTime * 100) / 100,
          plan: consumer?.plan,
          consumer: consumer?.id,
        },
        'request',
      );
    }
    done();
  });
  installRequestMetrics(app, metrics, (request, latencyMs) => {
    const consumer = request[kConsumer];
    request.log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: CLIENT_CLOSED_STATUS, latency_ms: Math.round(latencyMs * 100) / 100, plan: consumer?.plan, consumer: consumer?.id },
      'request',
    );
  });
  const inject: Injector = async ({ method, url, headers }) => {
    const response = await app.inject({ method, url, ...(headers && { headers }) });
    return { statusCode: response.statusCode };
  };
  const policies = createPolicySet(services, base.policyMap, inject, base.retained);

  await app.register(replyFrom, { undici: { connections: 64, keepAliveTimeout: 30_000 } });
  registerHealthRoutes(app, services, health);
  app.get('/metrics', { config: { builtin: true } }, async (request, reply) => {
    const { contentType, body } = await renderMetrics(metrics.registry, request.headers.accept);
    reply.header('content-type', contentType);
    return body;
  });
  await registerDocs(app, specs);
  registerPages(app, options.uiDir);
  buildRoutes(app, policies, specs);
  await app.ready();
  // Policies start only now: compiling routes is not overload (load-shed), and
  // refresh-ahead sends its requests through routes that exist now (cache).
  policies.start();
  let closing: Promise<void> | undefined;
  return {
    app,
    services,
    policies,
    health,
    close() {
      closing ??= (async () => {
        await app.close();
        await policies.close();
        await closeConfigServices(services);
      })();
      return closing;
    },
  };
}

/** Logs Redis going away and coming back, once per change. */
function watchRedis(base: GatewayBase, log: FastifyBaseLogger): void {
  const { redis } = base;
  if (!redis) {
    log.info('no REDIS_URL (nor REDIS_CLUSTER_NODES / REDIS_SENTINELS): quotas use in-process limiters (embedded default)');
    return;
  }
  let redisDown = false;
  redis.on('error', (error: Error) => {
    if (!redisDown) log.warn({ err: { message: error.message } }, 'redis unavailable: quotas use the in-process insurance limiter');
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) log.info('redis is back: shared quotas resume');
    redisDown = false;
  });
}

export interface RunningBase {
  /** Stops the event consumer, the bus (when the gateway made it), retained objects, the feed and Redis. */
  close(): Promise<void>;
}

/**
 * Starts what runs once per process, whatever the config: the feed's
 * reader and the event consumer. `services` are read at each event, so a
 * getter onto the current generation's services keeps them current.
 */
export async function startBase(base: GatewayBase, services: GatewayServices, log: FastifyBaseLogger): Promise<RunningBase> {
  watchRedis(base, log);
  base.shared.feed.start();
  const events = await consumeEvents(services).catch((error: unknown) => {
    log.error({ err: error }, 'cannot consume events: cached pages expire by TTL only until the bus is back');
    return undefined;
  });
  return {
    async close() {
      await events?.cancel().catch(() => {});
      if (!base.options.bus) await base.bus.close();
      await base.retained.close();
      await base.shared.feed.close();
      base.redis?.disconnect();
      base.stateRedis?.disconnect();
    },
  };
}

export async function buildGateway(validated: ValidatedConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const base = createGatewayBase(validated.config, options);
  const generation = await buildGeneration(validated, base);
  const { app, services, policies, health } = generation;
  const running = await startBase(base, services, app.log);

  let closing: Promise<void> | undefined;
  return {
    app,
    services,
    policies,
    health,
    close() {
      closing ??= (async () => {
        health.draining = true;
        // Open event streams would hold app.close() forever: end them first (browsers reconnect elsewhere).
        services.feed.endStreams();
        await generation.close();
        await running.close();
      })();
      return closing;
    },
  };
}

export { sendProblem };
