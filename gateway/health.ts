// /healthz says the process is alive; /readyz says whether this replica
// should get traffic: each dependency's state, 503 when a required one is
// down or the gateway is draining. A dependency that is down says which
// operations it takes down (`affects`), so ops know what a failing probe means.

import type { FastifyInstance } from 'fastify';
import type { GatewayServices } from './services.ts';
import { routesOf } from './config/validate.ts';
import { BROKER_OPERATIONS, STATE_OPERATIONS } from './operations/index.ts';
import type { ResilienceSnapshot } from '../platform/upstream/resilience.ts';

export interface DependencyCheck {
  status: 'up' | 'down';
  required: boolean;
  latency_ms?: number;
  error?: string;
  /** Upstreams only: this replica's circuit breaker for it ('open': calls answered 503 at once). */
  breaker?: ResilienceSnapshot['breaker'];
  /** Upstreams only: calls in flight and queued in its bulkhead. */
  bulkhead?: ResilienceSnapshot['bulkhead'];
  /** When down: the operations (operationIds) that fail or lose their events without it. */
  affects?: string[];
}

export type ReadinessProbe = () => Promise<DependencyCheck>;

const PROBE_TIMEOUT_MS = 1000;

function upstreamProbe(services: GatewayServices, name: string): ReadinessProbe {
  const endpoint = services.config.serviceEndpoints[name];
  const client = services.upstreams.get(name);
  const required = endpoint?.readiness === 'required';
  // The probe itself bypasses the breaker: it reports the upstream as it is now.
  const probe = async (): Promise<DependencyCheck> => {
    const started = performance.now();
    try {
      const response = await client.pool.request({ method: 'GET', path: client.basePath + (endpoint?.healthPath ?? '/healthz'), signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      await response.body.dump();
      const latency = Math.round(performance.now() - started);
      if (response.statusCode >= 400) return { status: 'down', required, latency_ms: latency, error: `answered ${response.statusCode}` };
      return { status: 'up', required, latency_ms: latency };
    } catch (error) {
      const e = error as { code?: string; name?: string };
      return { status: 'down', required, error: e.code ?? e.name ?? 'unreachable' };
    }
  };
  return async () => ({ ...(await probe()), ...client.resilience.snapshot() });
}

/** The operations whose pipelines name `serviceEndpoint` in any policy step (proxy, load-shed, ...). */
export function operationsUsingEndpoint(services: Pick<GatewayServices, 'config' | 'specs'>, serviceEndpoint: string): string[] {
  const { config, specs } = services;
  const found = new Set<string>();
  for (const [pipeline, { policies }] of Object.entries(config.pipelines)) {
    const names = policies.flatMap((entry) => Object.values(entry).flatMap((step) => (Array.isArray(step) ? step : [step]))).map((step) => (step as { action?: { serviceEndpoint?: unknown } }).action?.serviceEndpoint);
    if (!names.includes(serviceEndpoint)) continue;
    for (const route of routesOf(config, pipeline, specs)) if (route.operationId) found.add(route.operationId);
  }
  return [...found].sort();
}

/** Reports `affects` only while the dependency is down: what a failing check takes away. */
function withAffects(probe: ReadinessProbe, affects: string[]): ReadinessProbe {
  return async () => {
    const check = await probe();
    return check.status === 'down' ? { ...check, affects } : check;
  };
}

/**
 * The message broker: required, since without it no order, cancellation,
 * take or replay can be handed on (every one answers 503) and no event
 * arrives. The connection's state is tracked by the bus (amqplib's close
 * and error events, heartbeats), so the check costs no round trip.
 */
function brokerProbe(services: GatewayServices): ReadinessProbe | undefined {
  const { bus } = services;
  if (bus.kind !== 'rabbitmq') return undefined;
  return async () => (bus.connected ? { status: 'up', required: true, latency_ms: 0 } : { status: 'down', required: true, error: 'not connected' });
}

function redisProbe(services: GatewayServices): ReadinessProbe | undefined {
  const redis = services.redis;
  if (!redis) return undefined;
  // Optional: without Redis, quotas fall back to each replica's share.
  return async () => {
    const started = performance.now();
    if (redis.status !== 'ready') return { status: 'down', required: false, error: redis.status };
    try {
      await redis.ping();
      return { status: 'up', required: false, latency_ms: Math.round(performance.now() - started) };
    } catch (error) {
      return { status: 'down', required: false, error: (error as Error).message };
    }
  };
}

export interface HealthState {
  draining: boolean;
  probes: Map<string, ReadinessProbe>;
  /** The config this replica serves (a hash of the file) and when it was loaded: ops compare replicas. */
  config?: { version: string; loadedAt: string };
}

export function registerHealthRoutes(app: FastifyInstance, services: GatewayServices, state: HealthState): void {
  for (const name of Object.keys(services.config.serviceEndpoints)) state.probes.set(name, withAffects(upstreamProbe(services, name), operationsUsingEndpoint(services, name)));
  const redis = redisProbe(services);
  if (redis) state.probes.set('redis', withAffects(redis, [...STATE_OPERATIONS]));
  const broker = brokerProbe(services);
  if (broker) state.probes.set('rabbitmq', withAffects(broker, [...BROKER_OPERATIONS]));

  app.get('/healthz', { config: { builtin: true } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return { status: 'ok' };
  });

  app.get('/readyz', { config: { builtin: true } }, async (_request, reply) => {
    const entries = await Promise.all([...state.probes].map(async ([name, probe]) => [name, await probe()] as const));
    const checks = Object.fromEntries(entries);
    const failing = entries.some(([, check]) => check.required && check.status === 'down');
    const status = state.draining ? 'draining' : failing ? 'not_ready' : 'ready';
    reply.header('cache-control', 'no-store');
    reply.code(status === 'ready' ? 200 : 503);
    return { status, ...(state.config && { config: { version: state.config.version, loaded_at: state.config.loadedAt } }), checks };
  });
}
