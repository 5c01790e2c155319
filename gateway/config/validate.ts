// Validates a parsed gateway.config.yml: structure, each policy's action,
// and every cross-reference. Every message names its path in the file.

import { isIP } from 'node:net';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { validateCondition } from '../../platform/pipeline/conditions.ts';
import { policySettings, type GatewayConfig, type PolicyStepConfig } from '../../platform/pipeline/config.ts';
import type { AnyPolicy, RouteInfo } from '../../platform/pipeline/policy.ts';
import { SpecRegistry } from '../openapi/specs.ts';
import { operationNames } from '../operations/index.ts';
import { formatSchemaErrors } from './paths.ts';
import { composeConfigSchema, stepSchema } from './schema.ts';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Every policy a pipeline can name, by name. */
export type PolicyMap = ReadonlyMap<string, AnyPolicy>;

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: true });
const validateStep = ajv.compile(stepSchema);
const actionValidators = new WeakMap<AnyPolicy, ValidateFunction>();
const structureValidators = new WeakMap<PolicyMap, ValidateFunction>();

/** The file's schema with the sections of these policies, compiled once per set of policies. */
function structureValidator(policies: PolicyMap): ValidateFunction {
  let validator = structureValidators.get(policies);
  if (!validator) {
    validator = ajv.compile(composeConfigSchema(policies.values()));
    structureValidators.set(policies, validator);
  }
  return validator;
}

function actionValidator(policy: AnyPolicy): ValidateFunction {
  let validator = actionValidators.get(policy);
  if (!validator) {
    validator = ajv.compile(policy.actionSchema);
    actionValidators.set(policy, validator);
  }
  return validator;
}

/** A pipeline's routes, each with the OpenAPI operation it serves (when a spec describes it). */
export function routesOf(config: GatewayConfig, pipeline: string, specs: SpecRegistry): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const endpointName of config.pipelines[pipeline]?.apiEndpoints ?? []) {
    const endpoint = config.apiEndpoints[endpointName];
    if (!endpoint) continue;
    for (const path of endpoint.paths) {
      for (const method of endpoint.methods) routes.push({ pipeline, apiEndpoint: endpointName, method, path, operationId: specs.operationFor(method, path)?.operationId });
    }
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

function checkReferences(config: GatewayConfig, specs: SpecRegistry, problems: string[]): void {
  for (const entry of config.http.trustProxy.split(',').map((e) => e.trim()).filter(Boolean)) {
    if (!isAddressOrCidr(entry)) problems.push(`http.trustProxy: "${entry}" is not an IP address or CIDR`);
  }
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
    for (const route of routesOf(config, name, specs)) {
      const host = config.apiEndpoints[route.apiEndpoint]?.host ?? '*';
      const key = `${host} ${route.method} ${route.path}`;
      const other = seenRoutes.get(key);
      if (other && other !== name) problems.push(`pipelines.${name}: ${route.method} ${route.path} is already served by pipeline "${other}"`);
      seenRoutes.set(key, name);
    }
  }
}

function checkSettings(config: GatewayConfig, policies: PolicyMap, problems: string[]): void {
  for (const policy of policies.values()) {
    const schema = policy.settings;
    if (!schema?.check) continue;
    for (const message of schema.check(policySettings(config, schema.section))) problems.push(`${schema.section}.${message}`);
  }
}

function checkPipelines(config: GatewayConfig, specs: SpecRegistry, policies: PolicyMap, problems: string[]): void {
  const operations = operationNames(policies.values());
  for (const [name, pipeline] of Object.entries(config.pipelines)) {
    const routes = routesOf(config, name, specs);
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
        const settings = policy.settings ? policySettings(config, policy.settings.section) : undefined;
        for (const message of policy.check?.(step.action, { config, settings, specs, operations, routes }) ?? []) problems.push(`${stepPath}.action.${message}`);
      });
    });
    const last = pipeline.policies.at(-1);
    const lastPolicy = last ? policies.get(Object.keys(last)[0] ?? '') : undefined;
    if (lastPolicy && !lastPolicy.terminal) problems.push(`pipelines.${name}.policies: the last policy must answer the request (e.g. proxy)`);
  }
}

export interface ValidatedConfig {
  config: GatewayConfig;
  /** The OpenAPI documents of `contracts:`, loaded. */
  specs: SpecRegistry;
}

/** Validates in place (defaults are filled in) and returns the typed config. */
export function validateConfig(
  raw: unknown,
  file: string,
  baseDir: string,
  policies: PolicyMap,
): ValidatedConfig {
  const validateStructure = structureValidator(policies);
  if (!validateStructure(raw)) throw new ConfigError(file, formatSchemaErrors(validateStructure.errors, ''));
  const config = { ...(raw as object), baseDir } as GatewayConfig;
  const problems: string[] = [];
  let specs = new SpecRegistry();
  try {
    specs = SpecRegistry.load(config.contracts, baseDir);
  } catch (error) {
    problems.push(`contracts: ${(error as Error).message}`);
  }
  checkReferences(config, specs, problems);
  checkSettings(config, policies, problems);
  checkPipelines(config, specs, policies, problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return { config, specs };
}
