import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'scripts/config-check.ts');
const scratch = mkdtempSync(join(tmpdir(), 'facet-config-check-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { JWT_SECRET: _secret, NODE_ENV: _mode, ...base } = process.env;
  return spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env: { ...base, ...env }, encoding: 'utf8' });
}

/** The shipped config, edited, with contracts made absolute, in a scratch folder. */
function configFile(name: string, mutate: (doc: Doc) => void): string {
  const doc = parse(readFileSync(join(ROOT, 'gateway.config.yml'), 'utf8')) as Doc;
  for (const [spec, file] of Object.entries(doc.contracts as Record<string, string>)) doc.contracts[spec] = join(ROOT, file);
  mutate(doc);
  const file = join(scratch, name);
  writeFileSync(file, stringify(doc));
  return file;
}

describe('npm run config:check', () => {
  it('passes the shipped file and the Kubernetes ConfigMap, with the version /readyz will show', () => {
    const result = run(['gateway.config.yml', 'deploy/k8s/gateway-config.yaml']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /gateway\.config\.yml: valid \(version [0-9a-f]{12}\)/);
    // The ConfigMap's version is that of the text the pods read: the Deployment's annotation starts with it.
    const version = /gateway-config\.yaml: valid \(version ([0-9a-f]{12})\)/.exec(result.stdout)?.[1];
    assert.ok(version, result.stdout);
    assert.match(readFileSync(join(ROOT, 'deploy/k8s/gateway.yaml'), 'utf8'), new RegExp(`config-sha256: ${version}`));
  });

  it('refuses a broken file, exit 1, each problem with its path', () => {
    const file = configFile('broken.yml', (doc) => {
      doc.pipelines.sellerReads.policies[3].quota.action.cost = 0;
      doc.consumers[0].plan = 'platinum';
      doc.pipelines.sellerUsage.apiEndpoints.push('nowhere');
    });
    const result = run([file]);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /broken\.yml: invalid/);
    assert.match(result.stderr, /- pipelines\.sellerReads\.policies\[3\]\.quota\.action\.cost: must be a positive integer/);
    assert.match(result.stderr, /- consumers\[0\]\.plan: unknown plan "platinum"/);
    assert.match(result.stderr, /- pipelines\.sellerUsage\.apiEndpoints\[1\]: unknown apiEndpoint "nowhere"/);
  });

  it('checks env substitutions as the gateway does: in production a missing JWT_SECRET is a problem', () => {
    const production = run(['gateway.config.yml'], { NODE_ENV: 'production' });
    assert.equal(production.status, 1);
    assert.match(production.stderr, /pipelines\.operatorDashboard\.policies\[0\]\.jwt-auth\.action\.secret: environment variable JWT_SECRET is not set/);
    assert.equal(run(['gateway.config.yml'], { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }).status, 0);
  });

  it('refuses an operation without a handler and a ConfigMap whose embedded config is broken', () => {
    const unknownOperation = configFile('operation.yml', (doc) => {
      doc.apiEndpoints.sellerUsage.paths.push('/v1/nothing-here');
    });
    const operation = run([unknownOperation]);
    assert.equal(operation.status, 1);
    assert.match(operation.stderr, /pipelines\.sellerUsage/);
    const map = parse(readFileSync(join(ROOT, 'deploy/k8s/gateway-config.yaml'), 'utf8')) as Doc;
    map.data['gateway.config.yml'] = String(map.data['gateway.config.yml']).replace('tier: free', 'tier: gratis');
    const mapFile = join(scratch, 'configmap.yaml');
    writeFileSync(mapFile, stringify(map));
    const broken = run([mapFile]);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /plans\.free\.tier: must be one of free, paid/);
  });

  it('names an unreadable file', () => {
    const result = run([join(scratch, 'missing.yml')]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /cannot be read: ENOENT/);
  });
});
