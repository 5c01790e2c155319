// Validates a parsed gateway.config.yml: structure, each policy's action,
// and every cross-reference. Every message names its path in the file.

import { isIP } from 'node:net';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { ContractRegistry } from '../openapi/specs.ts';
import { validateCondition } from '../../platform/pipeline/conditions.ts';
import type { PolicyDefinition, RouteInfo } from '../../platform/pipeline/policy.ts';
import { formatSchemaErrors } from './paths.ts';
import { configSchema, stepSchema } from './schema.ts';
import type { GatewayConfig, PolicyStepConfig } from '../../platform/pipeline/config.ts';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: true });
const validateStructure = ajv.compile(configSchema);
const validateStep = ajv.compile(stepSchema);
const actionValidators = new WeakMap<PolicyDefinition<never>, ValidateFunction>();

function actionValidator(policy: PolicyDefinition<never>): ValidateFunction {
  let validator = actionValidators.get(policy);
  if (!validator) {
    validator = ajv.compile(policy.actionSchema);
    actionValidators.set(policy, validator);
  }
  return validator;
}

export function routesOf(config: GatewayConfig, pipeline: string): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const endpointName of config.pipelines[pipeline]?.apiEndpoints ?? []) {
    const endpoint = config.apiEndpoints[endpointName];
    if (!endpoint) continue;
    for (const path of endpoint.paths) for (const method of endpoint.methods) routes.push({ pipeline, apiEndpoint: endpointName, method, path });
  }
  return routes;
}

/** `10.0.0.0/8`, `127.0.0.1`, `::1`, `fd00::/8`: what proxy-addr accepts. */
function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

function checkReferences(config: GatewayConfig, problems: string[]): void {
  for (const entry of config.http.trustProxy.split(',').map((e) => e.trim()).filter(Boolean)) {
    if (!isAddressOrCidr(entry)) problems.push(`http.trustProxy: "${entry}" is not an IP address or CIDR`);
  }
  const adaptive = config.shedding.adaptive;
  if (adaptive.minLimit > adaptive.maxLimit) problems.push('shedding.adaptive.minLimit: must not be larger than maxLimit');
  if (adaptive.initialLimit < adaptive.minLimit || adaptive.initialLimit > adaptive.maxLimit) problems.push('shedding.adaptive.initialLimit: must be between minLimit and maxLimit');
  config.consumers.forEach((consumer, i) => {
    if (!config.plans[consumer.plan]) problems.push(`consumers[${i}].plan: unknown plan "${consumer.plan}" (plans: ${Object.keys(config.plans).join(', ')})`);
  });
  const consumerIds = new Set<string>();
  const keyHashes = new Set<string>();
  config.consumers.forEach((consumer, i) => {
    if (consumerIds.has(consumer.id)) problems.push(`consumers[${i}].id: duplicate consumer id "${consumer.id}"`);
    consumerIds.add(consumer.id);
    consumer.keys.forEach((key, k) => {
      if (keyHashes.has(key.sha256)) problems.push(`consumers[${i}].keys[${k}].sha256: the same key is given to two consumers`);
      keyHashes.add(key.sha256);
    });
  });
  const seenRoutes = new Map<string, string>();
  for (const [name, pipeline] of Object.entries(config.pipelines)) {
    pipeline.apiEndpoints.forEach((endpoint, i) => {
      if (!config.apiEndpoints[endpoint]) problems.push(`pipelines.${name}.apiEndpoints[${i}]: unknown apiEndpoint "${endpoint}"`);
    });
    for (const route of routesOf(config, name)) {
      const host = config.apiEndpoints[route.apiEndpoint]?.host ?? '*';
      const key = `${host} ${route.method} ${route.path}`;
      const other = seenRoutes.get(key);
      if (other && other !== name) problems.push(`pipelines.${name}: ${route.method} ${route.path} is already served by pipeline "${other}"`);
      seenRoutes.set(key, name);
    }
  }
}

function checkPipelines(config: GatewayConfig, contracts: ContractRegistry, policies: ReadonlyMap<string, PolicyDefinition<never>>, problems: string[]): void {
  for (const [name, pipeline] of Object.entries(config.pipelines)) {
    const routes = routesOf(config, name);
    pipeline.policies.forEach((entry, index) => {
      const [policyName, rawSteps] = Object.entries(entry)[0] as [string, PolicyStepConfig | PolicyStepConfig[]];
      const base = `pipelines.${name}.policies[${index}].${policyName}`;
      const policy = policies.get(policyName);
      if (!policy) {
        problems.push(`pipelines.${name}.policies[${index}]: unknown policy "${policyName}" (known: ${[...policies.keys()].join(', ')})`);
        return;
      }
      if (policy.terminal && index !== pipeline.policies.length - 1) problems.push(`${base}: "${policyName}" answers the request and must be the last policy`);
      const steps = Array.isArray(rawSteps) ? rawSteps : [rawSteps ?? {}];
      if (steps.length === 0) problems.push(`${base}: must have at least one step`);
      steps.forEach((step, s) => {
        const stepPath = Array.isArray(rawSteps) ? `${base}[${s}]` : base;
        if (!validateStep(step)) {
          problems.push(...formatSchemaErrors(validateStep.errors, stepPath));
          return;
        }
        if (step.condition) validateCondition(step.condition, `${stepPath}.condition`, problems);
        step.action ??= {};
        const validateAction = actionValidator(policy);
        if (!validateAction(step.action)) {
          problems.push(...formatSchemaErrors(validateAction.errors, `${stepPath}.action`));
          return;
        }
        for (const message of policy.check?.(step.action as never, { config, contracts, routes }) ?? []) problems.push(`${stepPath}.action.${message}`);
      });
    });
    const last = pipeline.policies.at(-1);
    const lastPolicy = last ? policies.get(Object.keys(last)[0] ?? '') : undefined;
    if (lastPolicy && !lastPolicy.terminal) problems.push(`pipelines.${name}.policies: the last policy must answer the request (e.g. proxy)`);
  }
}

export interface ValidatedConfig {
  config: GatewayConfig;
  contracts: ContractRegistry;
}

/** Validates in place (defaults are filled in) and returns the typed config. */
export function validateConfig(
  raw: unknown,
  file: string,
  baseDir: string,
  policies: ReadonlyMap<string, PolicyDefinition<never>>,
): ValidatedConfig {
  if (!validateStructure(raw)) throw new ConfigError(file, formatSchemaErrors(validateStructure.errors, ''));
  const config = { ...(raw as object), baseDir } as GatewayConfig;
  const problems: string[] = [];
  checkReferences(config, problems);
  let contracts = new ContractRegistry();
  try {
    contracts = ContractRegistry.load(config.contracts, baseDir);
  } catch (error) {
    problems.push(`contracts: ${(error as Error).message}`);
  }
  checkPipelines(config, contracts, policies, problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return { config, contracts };
}
