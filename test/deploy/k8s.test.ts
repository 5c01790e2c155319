// deploy/k8s: every manifest against the Kubernetes schemas (strict), the
// generated ConfigMap fresh and a valid gateway config, and the settings a
// safe rollout depends on.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { POLICIES } from '../../policies/index.ts';
import { parseConfig } from '../../gateway/config/load.ts';
import { stale } from '../../scripts/k8s-config.ts';
import { ROOT, envReadByCode, isReadByCode, isRecord, read, readYaml, readYamlDocuments } from './helpers.ts';
import { label, schemaErrors, strictErrors, type Manifest } from './k8s-schema.ts';

const FILES = ['namespace.yaml', 'gateway-config.yaml', 'gateway.yaml', 'adapters.yaml', 'secret.example.yaml'];

function load(): Manifest[] {
  return FILES.flatMap((file) => readYamlDocuments(`deploy/k8s/${file}`).map((body, index) => ({ file, index, body: body as Record<string, unknown> })));
}

const manifests = load();
// Loosely typed access for the structural checks; the schemas above vouch for the shapes.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const find = (kind: string, name: string): Json => {
  const m = manifests.find((x) => x.body.kind === kind && isRecord(x.body.metadata) && x.body.metadata.name === name);
  assert.ok(m, `${kind} ${name}`);
  return m.body as Json;
};

describe('deploy/k8s', () => {
  it('every manifest matches the Kubernetes schema', async () => {
    assert.ok(manifests.length >= 10, `${manifests.length} manifests`);
    assert.deepEqual(await schemaErrors(manifests), []);
  });

  it('no manifest has an unknown field (strict)', () => {
    assert.deepEqual(strictErrors(manifests), []);
  });

  it('a broken manifest fails both checks', async () => {
    const [deployment] = load().filter((m) => m.body.kind === 'Deployment');
    assert.ok(deployment);
    const body = structuredClone(deployment.body) as Json;
    body.spec.replicas = 'three';
    const container = body.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe; // misspelt: the API would drop it and the pod would never be probed
    const broken = { ...deployment, body };
    const schema = await schemaErrors([broken]);
    assert.ok(schema.some((e) => e.includes('spec/replicas must be integer')), schema.join('\n'));
    const strict = strictErrors([broken]);
    assert.ok(strict.some((e) => e.includes('readinesProbe') && e.includes('does not exist')), strict.join('\n'));
    assert.ok(strict.some((e) => e.includes("Type 'string' is not assignable to type 'number'")), strict.join('\n'));
  });

  it('the ConfigMap is generated from gateway.config.yml and valid gateway config', () => {
    assert.deepEqual(stale(), [], 'run: node scripts/k8s-config.ts');
    const config = find('ConfigMap', 'facet-gateway-config').data['gateway.config.yml'] as string;
    // Inside the image the repository lives at /app.
    const local = config.replaceAll('/app/openapi/', `${ROOT}openapi/`);
    const validated = parseConfig(local, '/etc/facet/gateway.config.yml', POLICIES, { JWT_SECRET: 'x'.repeat(32) });
    assert.equal(validated.config.http.port, 8080);
    assert.match(config, /seller: \/app\/openapi\/seller-api\.yaml/);
    const volumes = find('Deployment', 'facet-gateway').spec.template.spec.volumes as Json[];
    assert.ok(volumes.some((v) => v.configMap?.name === 'facet-gateway-config'));
  });

  for (const name of ['facet-gateway', 'facet-adapters']) {
    it(`${name}: probes, resources, non-root read-only pods, topology spread, disruption budget, autoscaler`, () => {
      const deployment = find('Deployment', name);
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers as Json[];
      assert.ok(container);
      assert.equal(container.readinessProbe.httpGet.path, '/readyz');
      assert.equal(container.livenessProbe.httpGet.path, '/healthz');
      assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
      assert.deepEqual(
        (pod.topologySpreadConstraints as Json[]).map((c) => c.topologyKey),
        ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'],
      );
      const labels = deployment.spec.template.metadata.labels;
      for (const kind of ['Service', 'PodDisruptionBudget']) {
        const selector = kind === 'Service' ? find(kind, name).spec.selector : find(kind, name).spec.selector.matchLabels;
        for (const [key, value] of Object.entries(selector)) assert.equal(labels[key], value, `${kind} ${name} selects the pods`);
      }
      const hpa = find('HorizontalPodAutoscaler', name);
      assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name });
      assert.ok(hpa.spec.minReplicas >= 2 && deployment.spec.replicas >= hpa.spec.minReplicas);
      const port = (container.ports as Json[])[0]?.containerPort;
      assert.equal(port, name === 'facet-gateway' ? 8080 : 8094);
    });
  }

  it('the gateway drains: preStop sleep, then SIGTERM well inside the grace period', () => {
    const gateway = find('Deployment', 'facet-gateway');
    const pod = gateway.spec.template.spec;
    const sleep = pod.containers[0].lifecycle.preStop.sleep.seconds as number;
    const drainSec = (readYaml('gateway.config.yml') as Json).http.shutdownGraceMs / 1000;
    assert.ok(sleep + drainSec < pod.terminationGracePeriodSeconds, `${sleep} + ${drainSec} < ${pod.terminationGracePeriodSeconds}`);
    assert.equal(gateway.spec.strategy.rollingUpdate.maxUnavailable, 0);
    const env = Object.fromEntries((pod.containers[0].env as Json[]).map((e) => [e.name, e]));
    assert.equal(env.FACET_ADAPTERS.value, 'external');
    assert.equal(env.GATEWAY_CONFIG.value, '/etc/facet/gateway.config.yml');
    // The config's default is loopback: the pod must say it listens on its address.
    assert.equal(env.HOST?.value, '0.0.0.0');
  });

  it('secrets come from the Secret template, which holds no real value and is not applied by kustomize', () => {
    const secret = find('Secret', 'facet-secrets');
    const keys = new Set(Object.keys(secret.stringData));
    for (const m of manifests.filter((x) => x.body.kind === 'Deployment')) {
      for (const env of (m.body as Json).spec.template.spec.containers[0].env as Json[]) {
        const ref = env.valueFrom?.secretKeyRef;
        if (ref) assert.ok(ref.name === 'facet-secrets' && keys.has(ref.key), `${label(m)}: ${env.name}`);
      }
    }
    for (const value of Object.values(secret.stringData)) assert.match(String(value), /REPLACE/);
    const resources = (readYaml('deploy/k8s/kustomization.yaml') as Json).resources as string[];
    for (const file of resources) assert.ok(existsSync(join(ROOT, 'deploy/k8s', file)), file);
    assert.ok(!resources.includes('secret.example.yaml'));
    assert.deepEqual([...resources, 'secret.example.yaml'].sort(), [...FILES].sort());
  });

  it('the notes name every Redis and RabbitMQ topology form, each by a variable the code reads', () => {
    const notes = read('deploy/k8s/README.md');
    const named = new Set([...notes.matchAll(/`((?:REDIS|AMQP)_[A-Z_]+)=/g)].map((m) => m[1] as string));
    for (const name of ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_CLUSTER_NODES', 'AMQP_URL', 'AMQP_QUORUM_GROUP_SIZE']) assert.ok(named.has(name) || notes.includes(`\`${name}\``), `the notes name ${name}`);
    const known = envReadByCode();
    for (const name of named) assert.ok(isReadByCode(name, known), `the notes set ${name}, which nothing reads`);
  });
});
