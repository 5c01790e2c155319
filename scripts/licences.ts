// Supply chain check, run by `npm test` (`npm run licences:check`): lists
// every production dependency pinned by package-lock.json with its version
// and licence (read from its own package.json under node_modules), and fails
// on a licence outside the allow-list or an `engines.node` that excludes the
// Node the project runs on (the `node` devDependency, Node 24).
//
//   node scripts/licences.ts            the table, then the verdict
//   node scripts/licences.ts --quiet    the verdict only

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Permissive licences only: they let the manufacturer ship Facet without
 * opening its own code. Python-2.0 and CC-BY are not needed today; a copyleft
 * licence (GPL, LGPL, AGPL, MPL, EPL, SSPL) needs a decision, not a line here.
 */
export const ALLOWED_LICENCES = new Set(['MIT', 'ISC', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD', 'BlueOak-1.0.0']);

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  link?: boolean;
}

export interface Dependency {
  name: string;
  path: string;
  version: string;
  licence: string;
  engines: string | undefined;
  problems: string[];
}

/** The licence field in its old and new forms: "MIT", {type: "MIT"}, [{type: "MIT"}, ...] (any of). */
function licenceOf(pkg: Record<string, unknown>): string {
  const value = pkg.license ?? pkg.licenses;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `(${value.map((v) => (v as { type?: string }).type ?? '?').join(' OR ')})`;
  if (value && typeof value === 'object') return String((value as { type?: unknown }).type ?? 'UNKNOWN');
  return 'UNKNOWN';
}

/** An SPDX expression is allowed when each AND term has an allowed alternative (`(MIT OR GPL-3.0)` is fine, `MIT AND GPL-3.0` is not). */
export function licenceAllowed(expression: string): boolean {
  const plain = expression.replace(/[()]/g, ' ').trim();
  if (plain === '') return false;
  return plain.split(/\s+AND\s+/).every((term) => term.split(/\s+OR\s+/).some((id) => ALLOWED_LICENCES.has(id.trim())));
}

/** The Node version the project runs on: the `node` devDependency's. */
function targetNode(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules/node/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function productionDependencies(): Dependency[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
  if (lock.lockfileVersion < 2) throw new Error('package-lock.json: lockfileVersion 2 or 3 expected');
  const node = targetNode();
  const out: Dependency[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.devOptional || entry.link) continue;
    const file = join(ROOT, path, 'package.json');
    if (!existsSync(file)) {
      // An optional dependency for another platform is not installed here.
      if (entry.optional) continue;
      throw new Error(`${path} is in package-lock.json but not installed: run npm ci`);
    }
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const name = String(pkg.name ?? path.slice(path.lastIndexOf('node_modules/') + 13));
    const version = String(pkg.version);
    const licence = licenceOf(pkg);
    const engines = (pkg.engines as { node?: string } | undefined)?.node;
    const problems: string[] = [];
    if (entry.version && entry.version !== version) problems.push(`installed ${version}, lockfile pins ${entry.version}`);
    if (!licenceAllowed(licence)) problems.push(`licence ${licence} is not on the allow-list`);
    if (engines && !semver.satisfies(node, engines, { includePrerelease: true })) problems.push(`engines.node "${engines}" excludes Node ${node}`);
    out.push({ name, path, version, licence, engines, problems });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

function main(): void {
  const quiet = process.argv.includes('--quiet');
  const deps = productionDependencies();
  if (!quiet) {
    for (const d of deps) console.log(`${d.name}@${d.version}\t${d.licence}\t${d.engines ?? '-'}${d.problems.length ? `\t!! ${d.problems.join('; ')}` : ''}`);
  }
  const byLicence = new Map<string, number>();
  for (const d of deps) byLicence.set(d.licence, (byLicence.get(d.licence) ?? 0) + 1);
  const failing = deps.filter((d) => d.problems.length > 0);
  console.log(`licences: ${deps.length} production packages (${[...byLicence].map(([l, n]) => `${l} ${n}`).join(', ')}); target Node ${targetNode()}`);
  if (failing.length > 0) {
    for (const d of failing) console.error(`licences: ${d.name}@${d.version} (${d.path}): ${d.problems.join('; ')}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
