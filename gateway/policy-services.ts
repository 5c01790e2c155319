// The policies' side of a gateway: the PolicyHost every policy is given, and
// each policy's settings and service, built once per config and started
// once the routes are ready. The gateway composes whatever policies it is
// given (policies/index.ts) and names none of them.

import { policySettings, type GatewayConfig } from '../platform/pipeline/config.ts';
import { asInternalCaller } from '../platform/pipeline/internal-caller.ts';
import type { InjectedRequest, PolicyHost, PolicyService } from '../platform/pipeline/policy.ts';
import type { PolicyMap } from './config/validate.ts';
import { operationHandlers, type BuiltPolicy } from './operations/index.ts';
import type { GatewayServices } from './services.ts';
import { RetainedObjects } from './retained.ts';

/** Without a policy asking for less: a Redis command slower than this fails, and its fallback decides. */
const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 100;

/** The shared Redis client's command timeout: the smallest any policy asks for. */
export function sharedRedisTimeoutMs(config: GatewayConfig, policies: PolicyMap): number {
  const asked: number[] = [];
  for (const policy of policies.values()) {
    const schema = policy.settings;
    const timeout = schema?.redisCommandTimeoutMs?.(policySettings(config, schema.section));
    if (timeout !== undefined) asked.push(timeout);
  }
  return asked.length > 0 ? Math.min(...asked) : DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
}

export interface PolicySet {
  readonly host: PolicyHost;
  /** By policy name. */
  readonly built: ReadonlyMap<string, BuiltPolicy>;
  start(): void;
  close(): Promise<void>;
}

/** Sends a request through the app's routes in process, as the gateway's internal operator. */
export type Injector = (request: InjectedRequest & { caller: string }) => Promise<{ statusCode: number }>;

export function createPolicySet(services: GatewayServices, policies: PolicyMap, inject: Injector, retained: RetainedObjects = new RetainedObjects()): PolicySet {
  const { config } = services;
  const host: PolicyHost = {
    config,
    specs: services.specs,
    upstreams: services.upstreams,
    consumers: services.consumers,
    metrics: services.metrics,
    redis: services.redis,
    state: services.state,
    orderChanges: services.orderChanges,
    keys: services.keys,
    inject: (request) => asInternalCaller(request.caller ?? 'facet-gateway', () => inject({ ...request, caller: request.caller ?? 'facet-gateway' })),
    // Set below, once the policies' services exist (their operations are made from them).
    operations: undefined as unknown as PolicyHost['operations'],
    retain: (name, make) => retained.retain(name, make),
  };
  const built = new Map<string, BuiltPolicy>();
  for (const definition of policies.values()) {
    const settings = definition.settings ? policySettings(config, definition.settings.section) : undefined;
    const service = definition.createService?.(host, settings);
    built.set(definition.name, { definition, settings, service });
  }
  host.operations = operationHandlers(services, host, [...built.values()]);
  const lifecycles = [...built.values()].map((p) => p.service as PolicyService | undefined).filter((s): s is PolicyService => s !== undefined);
  return {
    host,
    built,
    start() {
      for (const service of lifecycles) service.start?.();
    },
    async close() {
      await Promise.all(lifecycles.map((service) => service.close?.()));
    },
  };
}
