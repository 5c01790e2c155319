// docker-compose.yml: no Docker engine here, so the file is checked against
// the Compose Specification's JSON schema (the copy dclint ships), by
// dclint's rules, and for the structure the stack relies on.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { DCLinter } from 'dclint';
import { ROOT, envReadByCode, envReadByK6, isReadByCode, isRecord, parseYaml, read, readYaml, tempDir } from './helpers.ts';

const require = createRequire(import.meta.url);
const COMPOSE = 'docker-compose.yml';

function composeValidator(): ValidateFunction {
  const schema = JSON.parse(readFileSync(join(dirname(require.resolve('dclint/package.json')), 'schemas/compose.schema.json'), 'utf8')) as Record<string, unknown>;
  // The schema names draft-07 by an https URL ajv does not know; draft-07 is ajv's default.
  delete schema.$schema;
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  return ajv.compile(schema);
}

function schemaErrors(doc: unknown): string[] {
  const validate = composeValidator();
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

// Ordering rules are taste; the others catch mistakes (untagged images, duplicate or unbound ports...).
const STYLE_RULES = ['service-keys-order', 'services-alphabetical-order', 'service-ports-alphabetical-order', 'top-level-properties-order', 'service-dependencies-alphabetical-order'];

function dclintMessages(file: string): string[] {
  const linter = new DCLinter({ rules: Object.fromEntries(STYLE_RULES.map((rule) => [rule, 0])), quiet: false, debug: false, exclude: [] });
  // dclint's type declarations use extensionless imports that NodeNext cannot follow: its shape, stated.
  const results = linter.lintFiles([file], false) as { messages: { rule: string; message: string }[] }[];
  return results.flatMap((result) => result.messages.map((m) => `${m.rule}: ${m.message}`));
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
}

const compose = readYaml(COMPOSE) as { services: Record<string, Service> };
const services = compose.services;
const GATEWAYS = ['gateway-1', 'gateway-2', 'gateway-3'];
const REDIS_CLUSTER = [1, 2, 3, 4, 5, 6].map((n) => `redis-cluster-${n}`);
const RABBITMQ_CLUSTER = [1, 2, 3].map((n) => `rabbitmq-${n}`);
const CLUSTER_INIT = 'redis-cluster-init';
const CLUSTER_SERVICES = [...REDIS_CLUSTER, ...RABBITMQ_CLUSTER];

/** KEY=value lines of an env file (compose's --env-file). */
function envFile(path: string): Record<string, string> {
  const entries = read(path)
    .split('\n')
    .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
  return Object.fromEntries(entries);
}

describe('docker-compose.yml', () => {
  it('matches the Compose Specification schema', () => {
    assert.deepEqual(schemaErrors(compose), []);
  });

  it('a broken copy fails the schema', () => {
    const broken = parseYaml(read(COMPOSE)) as { services: Record<string, Record<string, unknown>> };
    (broken.services.redis as Record<string, unknown>).healthcheck = { test: ['CMD', 'redis-cli', 'ping'], intervall: '5s' };
    (broken.services.nginx as Record<string, unknown>).depends_on = { 'gateway-1': { condition: 'service_ready' } };
    const errors = schemaErrors(broken);
    assert.ok(errors.some((e) => e.includes('/services/redis/healthcheck') && e.includes('intervall')), errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('/services/nginx/depends_on') && e.includes('service_healthy')), errors.join('\n'));
  });

  it("passes dclint's rules (style-only rules aside)", () => {
    assert.deepEqual(dclintMessages(join(ROOT, COMPOSE)), []);
  });

  it('dclint fails a broken copy', () => {
    const dir = tempDir('compose');
    const file = join(dir, 'docker-compose.yml');
    const text = read(COMPOSE).replace('image: redis:7.4-alpine', 'image: redis').replace("'127.0.0.1:9090:9090'", "'127.0.0.1:8080:9090'");
    writeFileSync(file, text);
    const messages = dclintMessages(file);
    assert.ok(messages.some((m) => m.startsWith('service-image-require-explicit-tag')), messages.join('\n'));
    assert.ok(messages.some((m) => m.startsWith('no-duplicate-exported-ports')), messages.join('\n'));
    // And a file that is not YAML at all.
    writeFileSync(file, 'services:\n  redis:\n    image: [redis\n');
    assert.ok(dclintMessages(file).some((m) => m.startsWith('invalid-yaml')));
  });

  it('every long-running service has a health check; k6 (a one-shot job) only runs in the loadtest profile, the cluster forms in the cluster profile', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'k6' || name === CLUSTER_INIT) continue;
      assert.ok(service.healthcheck?.test?.length, `${name} has no healthcheck`);
      if (CLUSTER_SERVICES.includes(name)) assert.deepEqual(service.profiles, ['cluster'], name);
      else assert.equal(service.profiles, undefined, `${name} must run without a profile`);
    }
    assert.deepEqual(services[CLUSTER_INIT]?.profiles, ['cluster']);
    assert.deepEqual(services.k6?.profiles, ['loadtest']);
    assert.match(services.k6?.image ?? '', /^grafana\/k6:(0\.(5[7-9]|[6-9]\d)|[1-9])/, 'k6 >= 0.57 runs the .ts scripts as they are');
  });

  it('every dependency names a condition; data stores, simulators and gateways are awaited healthy', () => {
    const mustBeHealthy = new Set(['redis', 'rabbitmq', 'mes-sim', 'crm-sim', 'nginx', ...GATEWAYS]);
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, spec] of Object.entries(service.depends_on ?? {})) {
        assert.ok(services[dependency], `${name} depends on unknown service ${dependency}`);
        assert.ok(spec.condition, `${name} → ${dependency} has no condition`);
        if (mustBeHealthy.has(dependency)) assert.equal(spec.condition, 'service_healthy', `${name} → ${dependency}`);
        if (spec.condition === 'service_healthy') assert.ok(services[dependency]?.healthcheck, `${dependency} has no healthcheck to wait for`);
      }
    }
    for (const name of [...GATEWAYS, 'adapters']) {
      for (const dependency of ['redis', 'rabbitmq', 'mes-sim', 'crm-sim']) assert.ok(services[name]?.depends_on?.[dependency], `${name} waits for ${dependency}`);
    }
  });

  it('three gateway replicas run externally-adapted behind nginx, with every upstream set', () => {
    const gateways = Object.keys(services).filter((name) => services[name]?.command?.includes('entries/gateway.ts'));
    assert.deepEqual(gateways.sort(), GATEWAYS);
    for (const name of GATEWAYS) {
      const env = services[name]?.environment ?? {};
      assert.equal(env.FACET_ADAPTERS, 'external', name);
      // The config's default is loopback (npm start): nginx reaches the gateways only if they say otherwise.
      assert.equal(env.HOST, '0.0.0.0', `${name} sets HOST=0.0.0.0`);
      for (const key of ['MES_URL', 'CRM_URL', 'REDIS_URL', 'AMQP_URL', 'JWT_SECRET', 'OTEL_EXPORTER_OTLP_ENDPOINT']) assert.ok(env[key], `${name} sets ${key}`);
      assert.match(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '', /^http:\/\/jaeger:4318$/);
      assert.match(env.MES_URL ?? '', /^http:\/\/mes-sim:8091$/);
      assert.match(env.CRM_URL ?? '', /^http:\/\/crm-sim:8092$/);
      assert.ok(services[name]?.healthcheck?.test.join(' ').includes('/readyz'), `${name} health check asks /readyz`);
    }
    assert.deepEqual(Object.keys(services.nginx?.depends_on ?? {}).sort(), GATEWAYS);
    const upstreams = [...read('deploy/nginx/nginx.conf').matchAll(/^\s*server\s+([\w.-]+):8080\b/gm)].map((m) => m[1]);
    assert.deepEqual(upstreams.sort(), GATEWAYS);
    const targets = read('deploy/prometheus/prometheus.yml');
    for (const name of GATEWAYS) assert.ok(targets.includes(`'${name}:8080'`), `Prometheus scrapes ${name}`);
    assert.ok((services.adapters?.deploy?.replicas ?? 1) >= 2, 'adapters run as competing consumers');
  });

  it('image and build references resolve; bind-mounted files exist; entry points exist', () => {
    for (const [name, service] of Object.entries(services)) {
      assert.ok(service.image, `${name} names its image`);
      if (!service.build) assert.match(service.image ?? '', /:[\w.-]+$/, `${name}: a pinned tag`);
      if (service.build) {
        assert.ok(existsSync(join(ROOT, service.build.context, service.build.dockerfile)), `${name}: ${service.build.dockerfile}`);
        const entry = service.command?.find((part) => part.endsWith('.ts'));
        assert.ok(entry && existsSync(join(ROOT, entry)), `${name} runs ${entry}`);
      }
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('./') && !source.startsWith('./.tmp')) assert.ok(existsSync(join(ROOT, source)), `${name} mounts ${source}`);
      }
      for (const part of service.healthcheck?.test ?? []) if (part.startsWith('deploy/')) assert.ok(existsSync(join(ROOT, part)), `${name}: ${part}`);
    }
    assert.ok(existsSync(join(ROOT, 'loadtests/k6/smoke.ts')));
  });

  it('every environment variable a Facet service sets is read by the code', () => {
    const known = envReadByCode();
    for (const [name, service] of Object.entries(services)) {
      if (!service.build) continue;
      for (const key of Object.keys(service.environment ?? {})) assert.ok(isReadByCode(key, known), `${name} sets ${key}, which nothing reads`);
    }
    const k6 = envReadByK6();
    for (const key of Object.keys(services.k6?.environment ?? {})) assert.ok(k6.has(key), `k6 gets ${key}, which no script reads`);
  });

  it('the simulators listen beyond loopback and publish on the same RabbitMQ as the adapters', () => {
    for (const name of ['mes-sim', 'crm-sim']) assert.equal(services[name]?.environment?.SIM_HOST, '0.0.0.0', name);
    assert.equal(services['mes-sim']?.environment?.AMQP_URL, services.adapters?.environment?.AMQP_URL);
    assert.equal(services['mes-sim']?.environment?.SIM_SEED, services['crm-sim']?.environment?.SIM_SEED);
  });

  it('the cluster profile: a six-node Redis Cluster created once, a three-node RabbitMQ, and deploy/cluster.env pointing every Facet service at them', () => {
    for (const name of REDIS_CLUSTER) {
      const command = services[name]?.command ?? [];
      assert.equal(command[command.indexOf('--cluster-enabled') + 1], 'yes', `${name} runs in cluster mode`);
      assert.equal(command[command.indexOf('--appendonly') + 1], 'yes', `${name} keeps an AOF`);
      assert.ok(services[name]?.volumes?.some((v) => v.endsWith(':/data')), `${name} keeps its data`);
    }
    assert.deepEqual(Object.keys(services[CLUSTER_INIT]?.depends_on ?? {}).sort(), [...REDIS_CLUSTER].sort());
    const create = (services[CLUSTER_INIT]?.command ?? []).join(' ');
    assert.match(create, /--cluster create/);
    assert.match(create, /--cluster-replicas 1/);
    assert.match(create, /cluster_state:ok \|\|/, 'an existing cluster is left alone');

    const conf = read('deploy/rabbitmq/cluster.conf');
    const peers = [...conf.matchAll(/^cluster_formation\.classic_config\.nodes\.\d+ = rabbit@([\w-]+)$/gm)].map((m) => m[1]);
    assert.deepEqual(peers.sort(), [...RABBITMQ_CLUSTER].sort());
    const cookies = RABBITMQ_CLUSTER.map((name) => services[name]?.environment?.RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS);
    assert.ok(cookies[0]?.includes('-setcookie') && cookies.every((c) => c === cookies[0]), 'one Erlang cookie for the three nodes');
    for (const name of RABBITMQ_CLUSTER) {
      assert.equal((services[name] as Service & { hostname?: string }).hostname, name, `${name}: the node name follows the host name`);
      assert.ok(services[name]?.volumes?.some((v) => v.startsWith('./deploy/rabbitmq/cluster.conf:')), `${name} mounts the peer list`);
    }

    const env = envFile('deploy/cluster.env');
    assert.equal(env.FACET_REDIS_URL, '', 'REDIS_URL emptied: one topology at a time');
    assert.deepEqual(env.FACET_REDIS_CLUSTER_NODES?.split(',').map((s) => s.split(':')[0]).sort(), [...REDIS_CLUSTER].sort());
    assert.deepEqual(env.FACET_AMQP_URL?.split(',').map((u) => new URL(u).hostname).sort(), [...RABBITMQ_CLUSTER].sort());
    assert.equal(env.FACET_AMQP_QUORUM_GROUP_SIZE, '3');
    // Every Facet service and the MES simulator take their endpoints from those variables.
    const raw = read(COMPOSE);
    for (const variable of ['FACET_REDIS_URL', 'FACET_REDIS_CLUSTER_NODES', 'FACET_AMQP_URL', 'FACET_AMQP_QUORUM_GROUP_SIZE']) assert.ok(raw.includes(`\${${variable}-`), `compose reads ${variable}`);
    assert.match(raw, /REDIS_URL: \$\{FACET_REDIS_URL-redis:\/\/redis:6379\}/, 'without the env file: the single node, as before');
  });

  it('the env check itself catches a name nothing reads', () => {
    const known = envReadByCode();
    assert.equal(isReadByCode('MES_URL', known), true);
    assert.equal(isReadByCode('CRM_LATENCY_BASE_MS', known), true);
    assert.equal(isReadByCode('REDIS_ULR', known), false);
    assert.ok(isRecord(compose));
  });
});
