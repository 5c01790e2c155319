import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import type { PolicyMap } from './validate.ts';
import { substituteEnv } from './env.ts';
import { ConfigError, validateConfig, type ValidatedConfig } from './validate.ts';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Parses, substitutes env, validates and freezes a config text. */
export function parseConfig(
  text: string,
  file: string,
  policies: PolicyMap,
  env: NodeJS.ProcessEnv = process.env,
): ValidatedConfig {
  let parsed: unknown;
  try {
    parsed = parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  const problems: string[] = [];
  const substituted = substituteEnv(parsed, env, '', problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const validated = validateConfig(substituted, file, dirname(resolve(file)), policies);
  deepFreeze(validated.config);
  return validated;
}

export function loadConfigFile(
  file: string,
  policies: PolicyMap,
  env: NodeJS.ProcessEnv = process.env,
): ValidatedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return parseConfig(text, file, policies, env);
}
