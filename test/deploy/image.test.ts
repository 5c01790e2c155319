// deploy/Dockerfile: the image installs production dependencies only, so
// everything the processes import at run time must be a production
// dependency, and every source folder they reach must be copied in.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, read, readYaml } from './helpers.ts';

const TRACING = './platform/telemetry/register.ts';
const ENTRY_POINTS = ['platform/telemetry/register.ts', 'entries/gateway.ts', 'adapters/main.ts', 'sim/main.ts', 'sim/mes/main.ts', 'sim/crm/main.ts', 'deploy/probe.ts'];

// Static imports and re-exports (not `import type`), side-effect imports, dynamic import('...').
const IMPORT = /(?:^|[;\n])\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

/** Files reached from the entry points, and the packages they import (package → first importer). */
function crawl(entries: string[]): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      if (m[1]) continue; // type-only: erased
      const specifier = (m[2] ?? m[3]) as string;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        const name = packageName(specifier);
        if (!packages.has(name)) packages.set(name, relative(ROOT, file));
      }
    }
  };
  for (const entry of entries) visit(join(ROOT, entry));
  return { files, packages };
}

const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const dockerfile = read('deploy/Dockerfile');
const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

describe('deploy/Dockerfile', () => {
  const { files, packages } = crawl(ENTRY_POINTS);

  it('every package imported at run time is a production dependency', () => {
    assert.ok(files.size > 50, `${files.size} files reached`);
    const wrong = [...packages].filter(([name]) => !pkg.dependencies[name]).map(([name, file]) => `${name} (imported by ${file}; ${pkg.devDependencies[name] ? 'a devDependency' : 'not a dependency'})`);
    assert.deepEqual(wrong, []);
  });

  it('the crawl sees through re-exports and catches a devDependency', () => {
    assert.ok(packages.has('fastify') && packages.has('amqplib') && packages.has('ioredis'));
    const { packages: devOnly } = crawl(['scripts/openapi-types.ts']);
    assert.ok(devOnly.has('openapi-typescript') && !pkg.dependencies['openapi-typescript']);
  });

  it('the runtime stage copies every source folder the processes reach, and the config', () => {
    const copied = [...runtimeStage.matchAll(/^COPY --from=check \/src\/(\S+)/gm)].map((m) => m[1] as string);
    const needed = new Set([...files].map((f) => relative(ROOT, f).split('/')[0] as string));
    for (const folder of needed) {
      const ok = copied.includes(folder) || copied.some((c) => [...files].some((f) => relative(ROOT, f) === c));
      assert.ok(ok, `the image lacks ${folder}/`);
    }
    for (const file of ['gateway.config.yml', 'openapi']) assert.ok(copied.includes(file), file);
    const config = read('gateway.config.yml');
    for (const m of config.matchAll(/^\s+(?:seller|internal): (openapi\/\S+)/gm)) assert.ok(copied.includes((m[1] as string).split('/')[0] as string));
  });

  it('runs as a non-root user on node:24-slim with production dependencies only', () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-slim$/m);
    assert.equal([...dockerfile.matchAll(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)].length, 2, 'two stages on the same base');
    assert.match(runtimeStage, /^RUN npm ci --omit=dev\b/m);
    assert.match(runtimeStage, /^USER node$/m);
    assert.match(runtimeStage, /^CMD \["node", "--import", "\.\/platform\/telemetry\/register\.ts", "entries\/gateway\.ts"\]$/m);
    assert.doesNotMatch(runtimeStage, /^USER root/m);
    // The config's default is loopback (npm start); a container listens on its address.
    assert.match(runtimeStage, /^ENV .*\bHOST=0\.0\.0\.0\b/m);
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', '.git']) assert.ok(ignored.includes(entry), `.dockerignore: ${entry}`);
  });

  it("compose's Facet services run entry points of this image, tracing loaded first", () => {
    const compose = readYaml('docker-compose.yml') as { services: Record<string, { build?: unknown; command?: string[] }> };
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.build) continue;
      const command = service.command ?? [];
      assert.deepEqual(command.slice(0, 3), ['node', '--import', TRACING], `${name} starts tracing before anything else`);
      const entry = command.at(-1) ?? '';
      assert.ok(ENTRY_POINTS.includes(entry), `${name} runs ${entry}`);
    }
  });
});
