// Turns the config's pipelines into Fastify routes: one route per
// (apiEndpoint path, method), hooks in the order the pipeline lists policies.

import type { FastifyInstance, RouteOptions } from 'fastify';
import { compileCondition } from '../../platform/pipeline/conditions.ts';
import type { PolicyStepConfig } from '../../platform/pipeline/config.ts';
import type { PolicyStep, RouteContribution, RouteInfo } from '../../platform/pipeline/policy.ts';
import { routesOf } from '../config/validate.ts';
import type { PolicySet } from '../policy-services.ts';
import type { SpecRegistry } from '../openapi/specs.ts';

function contributionsFor(route: RouteInfo, policies: PolicySet): RouteContribution[] {
  const pipeline = policies.host.config.pipelines[route.pipeline];
  if (!pipeline) throw new Error(`unknown pipeline ${route.pipeline}`);
  return pipeline.policies.map((entry) => {
    const [name, raw] = Object.entries(entry)[0] as [string, PolicyStepConfig | PolicyStepConfig[]];
    const policy = policies.built.get(name);
    if (!policy) throw new Error(`unknown policy ${name}`);
    const steps: PolicyStep<Record<string, unknown>>[] = (Array.isArray(raw) ? raw : [raw]).map((step) => ({
      condition: compileCondition(step.condition),
      action: step.action ?? {},
    }));
    return policy.definition.build(steps, route, { ...policies.host, settings: policy.settings, service: policy.service });
  });
}

export function buildRoutes(app: FastifyInstance, policies: PolicySet, specs: SpecRegistry): RouteInfo[] {
  const { config } = policies.host;
  const built: RouteInfo[] = [];
  for (const pipelineName of Object.keys(config.pipelines)) {
    for (const route of routesOf(config, pipelineName, specs)) {
      const parts = contributionsFor(route, policies);
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
      const host = config.apiEndpoints[route.apiEndpoint]?.host ?? '*';
      if (host !== '*') options.constraints = { host };
      app.route(options);
      built.push(route);
    }
  }
  return built;
}
