// Turns the config's pipelines into Fastify routes: one route per
// (apiEndpoint path, method), hooks in the order the pipeline lists policies.

import type { FastifyInstance, RouteOptions } from 'fastify';
import type { PolicyStepConfig } from '../../platform/pipeline/config.ts';
import { routesOf } from '../config/validate.ts';
import type { GatewayServices } from '../services.ts';
import { compileCondition } from '../../platform/pipeline/conditions.ts';
import type { PolicyDefinition, PolicyStep, RouteContribution, RouteInfo } from '../../platform/pipeline/policy.ts';

function contributionsFor(route: RouteInfo, services: GatewayServices, policies: ReadonlyMap<string, PolicyDefinition<never>>): RouteContribution[] {
  const pipeline = services.config.pipelines[route.pipeline];
  if (!pipeline) throw new Error(`unknown pipeline ${route.pipeline}`);
  return pipeline.policies.map((entry) => {
    const [name, raw] = Object.entries(entry)[0] as [string, PolicyStepConfig | PolicyStepConfig[]];
    const policy = policies.get(name) as PolicyDefinition<Record<string, unknown>> | undefined;
    if (!policy) throw new Error(`unknown policy ${name}`);
    const steps: PolicyStep<Record<string, unknown>>[] = (Array.isArray(raw) ? raw : [raw]).map((step) => ({
      condition: compileCondition(step.condition),
      action: step.action ?? {},
    }));
    return policy.build(steps, route, services);
  });
}

export function buildRoutes(app: FastifyInstance, services: GatewayServices, policies: ReadonlyMap<string, PolicyDefinition<never>>): RouteInfo[] {
  const built: RouteInfo[] = [];
  for (const pipelineName of Object.keys(services.config.pipelines)) {
    for (const route of routesOf(services.config, pipelineName)) {
      const parts = contributionsFor(route, services, policies);
      const terminal = parts.at(-1)?.handler;
      if (!terminal) throw new Error(`pipeline ${pipelineName} has no terminal policy`);
      // Wrappers apply in pipeline order: the first listed is the outermost.
      const handler = parts.reduceRight((inner, part) => (part.wrapHandler ? part.wrapHandler(inner) : inner), terminal);
      const options: RouteOptions = {
        method: route.method,
        url: route.path,
        handler,
        onRequest: parts.flatMap((p) => p.onRequest ?? []),
        preValidation: parts.flatMap((p) => p.preValidation ?? []),
        preHandler: parts.flatMap((p) => p.preHandler ?? []),
        onResponse: parts.flatMap((p) => p.onResponse ?? []),
        config: { pipeline: pipelineName, apiEndpoint: route.apiEndpoint },
      };
      const schema = parts.find((p) => p.schema)?.schema;
      if (schema) options.schema = schema;
      const bodyLimit = parts.find((p) => p.bodyLimit)?.bodyLimit;
      if (bodyLimit) options.bodyLimit = bodyLimit;
      const host = services.config.apiEndpoints[route.apiEndpoint]?.host ?? '*';
      if (host !== '*') options.constraints = { host };
      app.route(options);
      built.push(route);
    }
  }
  return built;
}
