// What a policy is: a name, a schema for its action, and a factory that
// compiles its steps for one route into Fastify hooks (STYLE.md: a policy
// returns only the hooks it needs).

import type { FastifySchema, onRequestHookHandler, onResponseHookHandler, preHandlerHookHandler, preValidationHookHandler, RouteHandlerMethod } from 'fastify';
import type { GatewayConfig } from './config.ts';
import type { ContractRegistry } from '../../gateway/openapi/specs.ts';
import type { GatewayServices } from '../../gateway/services.ts';
import type { Condition } from './conditions.ts';

export interface RouteInfo {
  pipeline: string;
  apiEndpoint: string;
  method: string;
  /** Fastify form, `/v1/orders/:id`. */
  path: string;
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

export interface PolicyCheckContext {
  config: GatewayConfig;
  contracts: ContractRegistry;
  routes: RouteInfo[];
}

export interface PolicyDefinition<A = Record<string, unknown>> {
  readonly name: string;
  /** JSON Schema of `action`, with defaults. */
  readonly actionSchema: Record<string, unknown>;
  /** A terminal policy answers the request; a pipeline has exactly one, last. */
  readonly terminal: boolean;
  /** Cross-reference checks; messages are relative to the action (`serviceEndpoint: ...`). */
  check?(action: A, context: PolicyCheckContext): string[];
  build(steps: PolicyStep<A>[], route: RouteInfo, services: GatewayServices): RouteContribution;
}

/** Steps apply first-match: the first step whose condition holds runs. */
export function firstMatching<A>(steps: PolicyStep<A>[], input: Parameters<Condition>[0]): PolicyStep<A> | undefined {
  for (const step of steps) if (step.condition(input)) return step;
  return undefined;
}
