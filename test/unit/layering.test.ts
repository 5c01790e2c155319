// The layers hold (docs/architecture.md, "Layers"): the import-boundary rule
// of `npm run lint` refuses a file that imports a folder above it, the cycle
// check refuses a circle (type-only imports included), the production
// gateway entry's import closure has no file of sim/, and the top folders'
// import graph has no cycle and only the edges eslint.layers.js allows.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { ESLint } from 'eslint';
import { LAYERS } from '../../eslint.layers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE_FOLDERS = Object.keys(LAYERS).filter((folder) => folder !== 'openapi');

/** Every dependency between Facet's files (type-only imports included), as `npm run lint:cycles` reads them. */
async function importGraph(starts: string[]): Promise<Map<string, string[]>> {
  const options = await extractDepcruiseOptions(join(ROOT, '.dependency-cruiser.mjs'));
  const previous = process.cwd();
  process.chdir(ROOT);
  try {
    const { output } = await cruise(starts, { ...options, validate: false });
    const graph = new Map<string, string[]>();
    for (const module of (output as ICruiseResult).modules) {
      if (module.coreModule || module.couldNotResolve || module.source.includes('node_modules')) continue;
      graph.set(
        module.source,
        module.dependencies.filter((d) => !d.coreModule && !d.couldNotResolve && !d.resolved.includes('node_modules')).map((d) => d.resolved),
      );
    }
    return graph;
  } finally {
    process.chdir(previous);
  }
}

const topFolder = (file: string): string => file.split('/')[0] ?? file;

describe('layering', () => {
  const eslint = new ESLint({ cwd: ROOT });

  async function boundaryErrors(file: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) });
    return (result?.messages ?? []).filter((m) => m.ruleId === 'import-x/no-restricted-paths').map((m) => m.message);
  }

  it('the lint rule refuses a platform/ or contracts/ file importing a folder above it, type imports too', async () => {
    const cases: [file: string, code: string][] = [
      ['platform/upstream/new-file.ts', "import { buildGateway } from '../../gateway/app.ts';\nexport const x = buildGateway;\n"],
      ['platform/new-file.ts', "import type { PolicyMap } from '../gateway/config/validate.ts';\nexport type X = PolicyMap;\n"],
      ['platform/new-file.ts', "import { quotaPolicy } from '../policies/quota/index.ts';\nexport const x = quotaPolicy;\n"],
      ['platform/new-file.ts', "import { startAdapters } from '../adapters/index.ts';\nexport const x = startAdapters;\n"],
      ['contracts/new-file.ts', "import type { Bus } from '../platform/bus/index.ts';\nexport type X = Bus;\n"],
      ['contracts/new-file.ts', "import { generateDataset } from '../sim/data/seed.ts';\nexport const x = generateDataset;\n"],
    ];
    for (const [file, code] of cases) {
      const errors = await boundaryErrors(file, code);
      assert.equal(errors.length, 1, `${file}: ${code}`);
      assert.match(errors[0] ?? '', /Unexpected path .* imported in restricted zone\. (platform|contracts)\/ (may import only contracts\/|imports nothing of Facet's)/);
    }
  });

  it('the lint rule keeps every other layer in its place, and allows what is below', async () => {
    assert.equal((await boundaryErrors('policies/new/index.ts', "import { buildGateway } from '../../gateway/app.ts';\nexport const x = buildGateway;\n")).length, 1);
    assert.equal((await boundaryErrors('adapters/new.ts', "import { records } from '../gateway/operations/records.ts';\nexport const x = records;\n")).length, 1);
    assert.equal((await boundaryErrors('sim/new.ts', "import { startAdapters } from '../adapters/index.ts';\nexport const x = startAdapters;\n")).length, 1);
    assert.equal((await boundaryErrors('gateway/new.ts', "import { startMesSim } from '../sim/index.ts';\nexport const x = startMesSim;\n")).length, 1);
    assert.match((await boundaryErrors('entries/gateway.ts', "import { startMesSim } from '../sim/index.ts';\nexport const x = startMesSim;\n"))[0] ?? '', /never imports the simulators/);
    assert.deepEqual(await boundaryErrors('entries/embedded.ts', "import { startMesSim } from '../sim/index.ts';\nexport const x = startMesSim;\n"), []);
    assert.deepEqual(await boundaryErrors('platform/new-file.ts', "import { ROUTING } from '../contracts/messages.ts';\nexport const x = ROUTING;\n"), []);
    assert.deepEqual(await boundaryErrors('gateway/new.ts', "import { quotaPolicy } from '../policies/quota/index.ts';\nexport const x = quotaPolicy;\n"), []);
  });

  describe('the cycle check', () => {
    const dir = join(ROOT, '.tmp', `layering-${process.pid}`);
    before(() => {
      mkdirSync(dir, { recursive: true });
      // A circle of types only: import-x/no-cycle would not see it.
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.ts';\nexport interface A { b: B }\n");
      writeFileSync(join(dir, 'b.ts'), "import type { A } from './a.ts';\nexport interface B { a?: A }\n");
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('fails on a circle, type-only imports included, as npm run lint runs it', () => {
      // The CLI as `npm run lint:cycles` runs it, on this Node (the machine's may be older).
      const depcruise = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');
      const run = spawnSync(process.execPath, [depcruise, '--config', '.dependency-cruiser.mjs', dir], { cwd: ROOT, encoding: 'utf8' });
      assert.notEqual(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /error no-circular: .*a\.ts/);
    });
  });

  it("the production gateway entry's import closure has no file of sim/ (the embedded one does)", async () => {
    const production = [...(await importGraph(['entries/gateway.ts'])).keys()];
    assert.ok(production.length > 100, `${production.length} files reached`);
    assert.ok(production.includes('gateway/app.ts') && production.includes('adapters/start.ts'));
    assert.deepEqual(production.filter((file) => file.startsWith('sim/')), []);
    const embedded = [...(await importGraph(['entries/embedded.ts'])).keys()];
    assert.ok(embedded.some((file) => file.startsWith('sim/')), 'the crawl sees the simulators where they are imported');
  });

  it("the top folders' import graph has no cycle and only the edges the layers allow", async () => {
    const graph = await importGraph(SOURCE_FOLDERS);
    const edges = new Map<string, Set<string>>();
    for (const [file, dependencies] of graph) {
      const from = topFolder(file);
      for (const dependency of dependencies) {
        const to = topFolder(dependency);
        if (to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    for (const [from, targets] of edges) {
      const allowed = (LAYERS as Record<string, string[]>)[from] ?? [];
      assert.deepEqual([...targets].filter((to) => !allowed.includes(to)), [], `${from}/ imports only ${allowed.join(', ')}`);
    }
    // Kahn: a graph is acyclic when every node can be removed in turn.
    const remaining = new Map([...edges].map(([from, targets]) => [from, new Set(targets)]));
    let removed = true;
    while (removed) {
      removed = false;
      for (const [from, targets] of remaining) {
        if ([...targets].every((to) => !remaining.has(to))) {
          remaining.delete(from);
          removed = true;
        }
      }
    }
    assert.deepEqual([...remaining.keys()], [], 'top folders on a cycle');
    assert.ok(edges.get('gateway')?.has('policies') && edges.get('policies')?.has('platform') && edges.get('platform')?.has('contracts'), 'the graph is read');
  });
});
