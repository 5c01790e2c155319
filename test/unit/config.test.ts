import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../gateway/config/load.ts';
import { ConfigError } from '../../gateway/config/validate.ts';
import { POLICIES } from '../../policies/index.ts';

const FILE = 'gateway.config.yml';
const TEXT = readFileSync(FILE, 'utf8');
const ENV = { JWT_SECRET: 'x'.repeat(40) };

type Mutable = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function problemsFor(mutate: (doc: Mutable) => void, env: NodeJS.ProcessEnv = ENV): string[] {
  const doc = parse(TEXT) as Mutable;
  mutate(doc);
  try {
    parseConfig(stringify(doc), FILE, POLICIES, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('config was accepted');
}

describe('gateway.config.yml', () => {
  it('the shipped file is valid, with defaults filled in and frozen', () => {
    const { config, specs } = parseConfig(TEXT, FILE, POLICIES, { ...ENV, PORT: '9999' });
    assert.equal(config.http.port, 9999);
    assert.equal(config.serviceEndpoints.crm?.url, 'http://127.0.0.1:8092');
    assert.equal(config.serviceEndpoints.crm?.connections, 64);
    assert.equal(config.consumers[0]?.keys[0]?.revoked, false);
    assert.ok(Object.isFrozen(config.pipelines));
    assert.ok(specs.operation('seller', 'GET', '/v1/orders/:id'));
  });

  it('listens on loopback unless HOST is set (npm start serves the public demo credentials)', () => {
    assert.equal(parseConfig(TEXT, FILE, POLICIES, ENV).config.http.host, '127.0.0.1');
    assert.equal(parseConfig(TEXT, FILE, POLICIES, { ...ENV, HOST: '' }).config.http.host, '127.0.0.1');
    assert.equal(parseConfig(TEXT, FILE, POLICIES, { ...ENV, HOST: '0.0.0.0' }).config.http.host, '0.0.0.0');
  });

  it('names the path of a bad number', () => {
    const problems = problemsFor((d) => (d.serviceEndpoints.crm.timeoutMs = 0));
    assert.deepEqual(problems, ['serviceEndpoints.crm.timeoutMs: must be a positive integer']);
  });

  it('names the path of a bad policy action, down to the field', () => {
    const problems = problemsFor((d) => (d.pipelines.sellerReads.policies[0]['key-auth'].action.header = 'X API Key'));
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^pipelines\.sellerReads\.policies\[0\]\.key-auth\.action\.header: must match pattern/);
  });

  it('names the path inside a policy action, as in the issue’s example', () => {
    const problems = problemsFor((d) => (d.pipelines.sellerReads.policies[3].quota.action.cost = 0));
    assert.deepEqual(problems, ['pipelines.sellerReads.policies[3].quota.action.cost: must be a positive integer']);
  });

  it('checks plan limits and per-seller overrides', () => {
    const problems = problemsFor((d) => {
      d.plans.free.rate.perSecond = -1;
      d.consumers[0].overrides = { dailyQuota: 'lots' };
    });
    assert.ok(problems.includes('plans.free.rate.perSecond: must be a positive integer'), problems.join('\n'));
    assert.ok(problems.includes('consumers[0].overrides.dailyQuota: must be integer'), problems.join('\n'));
  });

  it('names array steps with their index and rejects unknown action settings', () => {
    const problems = problemsFor((d) => (d.pipelines.sellerQuotes.policies[2].quota[1].action.retries = 3));
    assert.deepEqual(problems, ['pipelines.sellerQuotes.policies[2].quota[1].action.retries: is not a known setting']);
  });

  it('keeps dashboard-only cache settings off seller caches', () => {
    const problems = problemsFor((d) => Object.assign(d.pipelines.sellerReads.policies[1].cache.action, { staleAcrossGenerations: true, refreshAhead: [{ query: {} }] }));
    assert.deepEqual(problems.sort(), [
      'pipelines.sellerReads.policies[1].cache.action.refreshAhead: is only for the dashboard scope (seller caches are filled by sellers)',
      'pipelines.sellerReads.policies[1].cache.action.staleAcrossGenerations: is only for the dashboard scope (a seller must see its own writes)',
    ]);
  });

  it('checks trusted proxies are addresses or CIDRs', () => {
    assert.deepEqual(problemsFor((d) => (d.http.trustProxy = '10.0.0.0/8, 127.0.0.1, ::1, fd00::/8, 10.0.0.0/33,1.2.3')), [
      'http.trustProxy: "10.0.0.0/33" is not an IP address or CIDR',
      'http.trustProxy: "1.2.3" is not an IP address or CIDR',
    ]);
  });

  it('rejects an unknown policy', () => {
    const problems = problemsFor((d) => d.pipelines.sellerReads.policies.splice(1, 0, { 'rate-limitt': {} }));
    assert.match(problems[0] ?? '', /^pipelines\.sellerReads\.policies\[1\]: unknown policy "rate-limitt" \(known: /);
  });

  it('resolves every reference', () => {
    const problems = problemsFor((d) => {
      d.pipelines.sellerReads.policies[5].proxy.action.serviceEndpoint = 'erp';
      d.pipelines.sellerReads.apiEndpoints.push('nowhere');
      d.consumers[0].plan = 'gold';
    });
    assert.ok(problems.includes('consumers[0].plan: unknown plan "gold" (plans: free, standard, enterprise)'), problems.join('\n'));
    assert.ok(problems.includes('pipelines.sellerReads.apiEndpoints[1]: unknown apiEndpoint "nowhere"'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('pipelines.sellerReads.policies[5].proxy.action.serviceEndpoint: unknown service endpoint "erp"')), problems.join('\n'));
  });

  it('relays only upstream answers that have a contract to check them against', () => {
    const problems = problemsFor((d) => {
      d.pipelines.sellerCatalogue.policies.at(-1).proxy.action.path = '/mes/models';
    });
    assert.ok(
      problems.some((p) => p.startsWith('pipelines.sellerCatalogue.policies[4].proxy.action.path: no upstream contract for GET /mes/models, so its answer could not be checked (relayed: GET /mes/materials;')),
      problems.join('\n'),
    );
  });

  it('requires a referenced environment variable', () => {
    // Every operator pipeline reads JWT_SECRET: each reports it.
    const problems = problemsFor(() => {}, {});
    assert.ok(problems.length >= 1);
    for (const problem of problems) assert.match(problem, /^pipelines\.operator\w+\.policies\[0\]\.jwt-auth\.action\.secret: environment variable JWT_SECRET is not set \(write \$\{JWT_SECRET:-default\} to give a default\)$/);
    assert.ok(problems.includes('pipelines.operatorDashboard.policies[0].jwt-auth.action.secret: environment variable JWT_SECRET is not set (write ${JWT_SECRET:-default} to give a default)'));
  });

  it('rejects a short HS256 secret', () => {
    const problems = problemsFor(() => {}, { JWT_SECRET: 'short' });
    assert.ok(problems.includes('pipelines.operatorDashboard.policies[0].jwt-auth.action.secret: must be at least 32 characters'));
    for (const problem of problems) assert.match(problem, /^pipelines\.operator\w+\.policies\[0\]\.jwt-auth\.action\.secret: must be at least 32 characters$/);
  });

  it('checks that the contract documents every route of a validated pipeline', () => {
    const problems = problemsFor((d) => d.apiEndpoints.sellerOrders.paths.push('/v1/secret'));
    assert.deepEqual(problems, [
      'pipelines.sellerReads.policies[4].validate.action.contract: seller has no operation for GET /v1/secret (apiEndpoint sellerOrders)',
      // With no operation, the terminal step has no handler to pick either.
      'pipelines.sellerReads.policies[5].proxy.action.serviceEndpoint: GET /v1/secret is in no OpenAPI spec, so it has no operation handler (give a path to relay)',
    ]);
  });

  it('checks conditions', () => {
    const problems = problemsFor((d) => (d.pipelines.sellerQuotes.policies[2].quota[0].condition = { name: 'pathMatch', pattern: '(' }));
    assert.deepEqual(problems, ['pipelines.sellerQuotes.policies[2].quota[0].condition.pattern: must be a valid regular expression']);
  });

  it('requires the terminal policy to be last', () => {
    const problems = problemsFor((d) => d.pipelines.sellerCatalogue.policies.reverse());
    assert.ok(problems.includes('pipelines.sellerCatalogue.policies[0].proxy: "proxy" answers the request and must be the last policy'), problems.join('\n'));
  });

  it('rejects the same route in two pipelines and the same key for two sellers', () => {
    const problems = problemsFor((d) => {
      d.pipelines.sellerCatalogue.apiEndpoints.push('sellerOrders');
      d.consumers[1].keys[0].sha256 = d.consumers[0].keys[0].sha256;
    });
    assert.ok(problems.some((p) => p.startsWith('pipelines.sellerCatalogue: GET /v1/orders is already served by pipeline "sellerReads"')), problems.join('\n'));
    assert.ok(problems.includes('consumers[1].keys[0].sha256: the same key is given to two consumers'), problems.join('\n'));
  });

  it('reports YAML syntax errors and duplicate keys', () => {
    assert.throws(() => parseConfig('http: [', FILE, POLICIES, ENV), (e: ConfigError) => /not valid YAML/.test(e.problems[0] ?? ''));
    assert.throws(() => parseConfig('plans: {}\nplans: {}\n', FILE, POLICIES, ENV), (e: ConfigError) => /not valid YAML/.test(e.problems[0] ?? ''));
  });

  it('never lets an env value inject YAML: it stays one string and is checked', () => {
    const problems = problemsFor(() => {}, { ...ENV, CRM_URL: 'http://crm.internal:80\nplans: {}' });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^serviceEndpoints\.crm\.url: must match pattern/);
  });
});
