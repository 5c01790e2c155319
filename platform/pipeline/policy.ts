// What a policy is, and what the gateway offers it (Kong's PDK, in small):
// a name, a schema for its action, optionally its own part of a global
// config section and a service built once per config, and a factory that
// compiles its steps for one route into Fastify hooks (STYLE.md: a policy
// returns only the hooks it needs). The gateway composes the policies it is
// given without naming any of them; a policy imports only platform/ and
// contracts/, never the gateway.

import type { FastifyRequest, FastifySchema, onRequestHookHandler, onResponseHookHandler, preHandlerHookHandler, preValidationHookHandler, RouteHandlerMethod } from 'fastify';
import type { RedisClient } from '../redis.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import type { KeyValueStore } from '../state/kv.ts';
import type { SellerKeyStore } from '../keys/seller-keys.ts';
import type { UpstreamClient } from '../upstream/client.ts';
import { ALWAYS, type Condition, type ConditionInput } from './conditions.ts';
import type { GatewayConfig } from './config.ts';
import type { ConsumerDirectory } from './consumers.ts';
import { conditionInputOf } from './request-state.ts';

export interface RouteInfo {
  pipeline: string;
  apiEndpoint: string;
  method: string;
  /** Fastify form, `/v1/orders/:id`. */
  path: string;
  /** The OpenAPI operation this route serves (its operationId), when a spec describes it. */
  operationId: string | undefined;
}

/** An OpenAPI operation as a Fastify route schema. */
export interface RouteOperation {
  /** The spec's name in the config's `contracts:`. */
  spec: string;
  operationId: string;
  schema: FastifySchema;
  /** The dereferenced OpenAPI operation object (x- extensions, requestBody.required). */
  operation: Readonly<Record<string, unknown>>;
}

/** The OpenAPI operations the gateway loaded, by spec name, method and Fastify path. */
export interface OperationLookup {
  readonly specNames: readonly string[];
  operation(spec: string, method: string, path: string): RouteOperation | undefined;
}

/** The handlers of operations, by operationId: remote ones call an upstream, local ones answer in the gateway. */
export interface OperationHandlers {
  readonly remote: ReadonlySet<string>;
  readonly local: ReadonlySet<string>;
  remoteHandler(operationId: string, upstream: UpstreamClient): RouteHandlerMethod | undefined;
  localHandler(operationId: string): RouteHandlerMethod | undefined;
}

/** An order the gateway saw change (a write it accepted, an event it consumed). */
export interface OrderChange {
  sellerId: string;
  /** `accepted`: the gateway took a seller's write; `status_changed`: the saga announced a new status. */
  kind: 'accepted' | 'status_changed';
}

/** In-process notice of order changes; the writer awaits the listeners (a seller reads its own writes). */
export interface OrderChanges {
  onChange(listener: (change: OrderChange) => Promise<void>): void;
}

/** A request sent through the gateway's own routes, in process (light-my-request), as a client would. */
export interface InjectedRequest {
  method: 'GET' | 'HEAD';
  url: string;
  headers?: Record<string, string>;
  /** The internal operator it runs as (`facet-refresh-ahead`); default `facet-gateway`. */
  caller?: string;
}

/** An object kept across config reloads (PolicyHost.retain), closed with the gateway. */
export interface Retainable<T> {
  value: T;
  close?(): void | Promise<void>;
}

/** What the gateway gives every policy's service factory and build(). */
export interface PolicyHost {
  config: GatewayConfig;
  specs: OperationLookup;
  upstreams: { get(name: string): UpstreamClient };
  consumers: ConsumerDirectory;
  metrics: GatewayMetrics;
  /** The shared Redis client (commands fail fast); undefined in the embedded default. */
  redis: RedisClient | undefined;
  /** The write path's shared records (Redis with a longer timeout, or in process). */
  state: KeyValueStore;
  orderChanges: OrderChanges;
  /** Sellers' API-made keys, and the config keys' rotations and revocations (shared by every replica). */
  keys: SellerKeyStore;
  /** Usable once the gateway is ready (timers, not build()). */
  inject(request: InjectedRequest): Promise<{ statusCode: number }>;
  operations: OperationHandlers;
  /**
   * The object kept under `name` for the life of the process, made on first
   * use: a reload builds every service again from the new config, and what
   * it must not lose (in-process counters and entries, metric families,
   * listeners registered once) is asked for here. Names are the policy's
   * (`quota.limiters`); what is kept must not depend on the config, or must
   * be keyed by what it depends on.
   */
  retain<T>(name: string, make: () => Retainable<T>): T;
}

/** A policy's service: built once per config, started when the routes are ready, closed with the gateway. */
export interface PolicyService {
  start?(): void;
  close?(): void | Promise<void>;
}

export interface PolicyStep<A> {
  condition: Condition;
  action: A;
}

export interface RouteContribution {
  onRequest?: onRequestHookHandler[];
  /** After the body is parsed, before the route schema validates it. */
  preValidation?: preValidationHookHandler[];
  preHandler?: preHandlerHookHandler[];
  /** Runs after the answer is sent (also after errors): release what onRequest took. */
  onResponse?: onResponseHookHandler[];
  handler?: RouteHandlerMethod;
  /** Wraps the terminal handler (e.g. a cache in front of the upstream call). */
  wrapHandler?: (next: RouteHandlerMethod) => RouteHandlerMethod;
  schema?: FastifySchema;
  /** Largest body this route accepts, when it differs from http.bodyLimit. */
  bodyLimit?: number;
}

export interface PolicyCheckContext<S = unknown> {
  config: GatewayConfig;
  /** This policy's global section, validated and with its defaults. */
  settings: S;
  specs: OperationLookup;
  /** Operation ids that have a handler (for terminal policies). */
  operations: Pick<OperationHandlers, 'remote' | 'local'>;
  routes: RouteInfo[];
}

/** build()'s context: the host, this policy's settings and its service. */
export interface PolicyBuildContext<S = unknown, Svc = unknown> extends PolicyHost {
  settings: S;
  service: Svc;
}

/** A policy's part of a top-level config section; several policies may share a section, each property has one owner. */
export interface PolicySettingsSchema<S> {
  section: string;
  /** JSON Schema properties, each with its default. */
  properties: Record<string, object>;
  /** Cross-field checks; messages are relative to the section (`adaptive.minLimit: ...`). */
  check?(settings: S): string[];
  /**
   * The longest the shared Redis client may wait on a command before this
   * policy's fallback should decide instead (the gateway uses the smallest
   * any policy asks for).
   */
  redisCommandTimeoutMs?(settings: S): number;
}

export interface PolicyDefinition<A = Record<string, unknown>, S = undefined, Svc = undefined> {
  readonly name: string;
  /** JSON Schema of `action`, with defaults. */
  readonly actionSchema: Record<string, unknown>;
  /** A terminal policy answers the request; a pipeline has exactly one, last. */
  readonly terminal: boolean;
  readonly settings?: PolicySettingsSchema<S>;
  /** Built once per config, whether or not a pipeline names the policy. */
  createService?(host: PolicyHost, settings: S): Svc & PolicyService;
  /** Operations this policy answers itself (the `respond` policy serves them), by operationId. */
  readonly operations?: Readonly<Record<string, (context: { service: Svc; host: PolicyHost; settings: S }) => RouteHandlerMethod>>;
  /** Cross-reference checks; messages are relative to the action (`serviceEndpoint: ...`). */
  check?(action: A, context: PolicyCheckContext<S>): string[];
  build(steps: PolicyStep<A>[], route: RouteInfo, context: PolicyBuildContext<S, Svc>): RouteContribution;
}

/** Any policy, whatever its action, settings and service types (the gateway's view). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicy = PolicyDefinition<any, any, any>;

/** Steps apply first-match: the first step whose condition holds runs. */
export function firstMatching<A>(steps: PolicyStep<A>[], input: ConditionInput): PolicyStep<A> | undefined {
  for (const step of steps) if (step.condition(input)) return step;
  return undefined;
}

/**
 * A policy's step picker for its hot path: first-match on the conditions, or,
 * when its only step has none (the common case), that step without looking
 * at the request at all (no condition input is built).
 */
export function stepPicker<A>(steps: PolicyStep<A>[]): (request: FastifyRequest) => PolicyStep<A> | undefined {
  const only = steps.length === 1 && steps[0]?.condition === ALWAYS ? steps[0] : undefined;
  if (only !== undefined) return () => only;
  return (request) => firstMatching(steps, conditionInputOf(request));
}
