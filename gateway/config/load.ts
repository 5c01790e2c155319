import { createHash } from 'node:crypto';
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

/** A config's version as /readyz shows it: the first 12 hex digits of the file's SHA-256. */
export function configVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** The file's text; a read failure is a ConfigError naming the file. */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
}

export interface LoadedConfig extends ValidatedConfig {
  /** configVersion() of the text that was validated. */
  version: string;
}

/** Reads and validates a config file: what start-up, a reload and `npm run config:check` all do. */
export function loadConfigFile(
  file: string,
  policies: PolicyMap,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const text = readConfigText(file);
  return { ...parseConfig(text, file, policies, env), version: configVersion(text) };
}
