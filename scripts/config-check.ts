// Checks gateway config files exactly as the gateway validates them at
// start-up and on a reload (gateway/config/load.ts: YAML, env substitution,
// the schema with every policy's section, each policy step's action, every
// reference, the OpenAPI operations and their handlers), before they go live.
//
//   npm run config:check                      gateway.config.yml (or $GATEWAY_CONFIG)
//   npm run config:check -- FILE [FILE...]    each file; a Kubernetes ConfigMap is read too
//
// Exits 1 with one line per problem, each naming its path in the file.
// Environment: the caller's, as the gateway would see it (outside
// production a missing JWT_SECRET is the demo secret, as at start-up).
// A ConfigMap (deploy/k8s/gateway-config.yaml) is checked through the
// gateway.config.yml it embeds; its contracts point into the image (/app),
// which is this repository.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, parseDocument } from 'yaml';
import { configVersion, loadConfigFile } from '../gateway/config/load.ts';
import { ConfigError } from '../gateway/config/validate.ts';
import { gatewayEnv } from '../entries/demo.ts';
import { POLICIES } from '../policies/index.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** Where the image keeps this repository (scripts/k8s-config.ts rewrites contracts to it). */
const IMAGE_ROOT = '/app/';
const CONFIG_KEY = 'gateway.config.yml';

export interface CheckResult {
  file: string;
  ok: boolean;
  /** The config's version (as /readyz reports it) when valid. */
  version?: string;
  problems: string[];
}

/** A ConfigMap's embedded config, with the image's paths mapped onto this repository; undefined when the text is not one. */
export function embeddedConfig(text: string, root: string = ROOT): { original: string; local: string } | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined;
  }
  const manifest = doc as { kind?: unknown; data?: Record<string, unknown> } | null;
  if (!manifest || manifest.kind !== 'ConfigMap') return undefined;
  const embedded = manifest.data?.[CONFIG_KEY];
  if (typeof embedded !== 'string') throw new ConfigError('ConfigMap', [`data.${CONFIG_KEY}: is required (the gateway's config)`]);
  const config = parseDocument(embedded);
  const contracts = config.get('contracts');
  if (contracts && typeof contracts === 'object' && 'items' in contracts) {
    for (const item of (contracts as { items: { key: unknown; value: unknown }[] }).items) {
      const name = String((item.key as { value?: unknown })?.value ?? item.key);
      const path = config.getIn(['contracts', name]);
      if (typeof path === 'string' && path.startsWith(IMAGE_ROOT)) config.setIn(['contracts', name], join(root, path.slice(IMAGE_ROOT.length)));
    }
  }
  return { original: embedded, local: config.toString({ lineWidth: 0 }) };
}

export function checkConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): CheckResult {
  const effective = gatewayEnv(env).env;
  let target = file;
  let scratch: string | undefined;
  try {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // loadConfigFile reports the unreadable file.
    }
    const embedded = text === undefined ? undefined : embeddedConfig(text);
    if (embedded !== undefined) {
      scratch = mkdtempSync(join(tmpdir(), 'facet-config-check-'));
      target = join(scratch, CONFIG_KEY);
      writeFileSync(target, embedded.local);
    }
    const loaded = loadConfigFile(target, POLICIES, effective);
    // The version the pods report: that of the text they read.
    return { file, ok: true, version: embedded ? configVersion(embedded.original) : loaded.version, problems: [] };
  } catch (error) {
    if (error instanceof ConfigError) return { file, ok: false, problems: error.problems };
    throw error;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const files = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (files.length === 0) files.push(process.env.GATEWAY_CONFIG || 'gateway.config.yml');
  let failed = false;
  for (const file of files) {
    const result = checkConfigFile(resolve(file));
    if (result.ok) {
      console.log(`${file}: valid (version ${result.version})`);
    } else {
      failed = true;
      console.error(`${file}: invalid\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
    }
  }
  process.exit(failed ? 1 : 0);
}
