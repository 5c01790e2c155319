// A policy brings its own part of a global config section and its own
// operations; the gateway composes them without naming any policy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { composeConfigSchema } from '../../gateway/config/schema.ts';
import { operationNames } from '../../gateway/operations/index.ts';
import type { AnyPolicy } from '../../platform/pipeline/policy.ts';
import { POLICIES } from '../../policies/index.ts';

const policy = (name: string, section: string, properties: Record<string, object>): AnyPolicy => ({
  name,
  terminal: false,
  actionSchema: { type: 'object' },
  settings: { section, properties },
  build: () => ({}),
});

describe('policy sections and operations', () => {
  it('a section is the union of the properties its policies declare, with its defaults', () => {
    const schema = composeConfigSchema([policy('a', 'limits', { x: { type: 'integer', default: 1 } }), policy('b', 'limits', { y: { type: 'string', default: 'z' } })]) as {
      properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean; default?: unknown }>;
    };
    assert.deepEqual(Object.keys(schema.properties.limits?.properties ?? {}), ['x', 'y']);
    assert.equal(schema.properties.limits?.additionalProperties, false);
    assert.deepEqual(schema.properties.limits?.default, {});
    assert.ok(schema.properties.pipelines, 'the core stays');
  });

  it('two policies claiming one property, or a policy claiming a core section, fail at start-up', () => {
    assert.throws(() => composeConfigSchema([policy('a', 'limits', { x: {} }), policy('b', 'limits', { x: {} })]), /policy b: limits\.x is already declared by policy a/);
    assert.throws(() => composeConfigSchema([policy('a', 'plans', { x: {} })]), /section "plans" is the gateway's own/);
  });

  it('the shipped policies own quota (quota and key-auth) and shedding (load-shed)', () => {
    const owners = [...POLICIES.values()].filter((p) => p.settings).map((p) => `${p.settings?.section}:${p.name}`).sort();
    assert.deepEqual(owners, ['quota:key-auth', 'quota:quota', 'shedding:load-shed']);
  });

  it('a policy’s operations are local operations: getUsage comes with the quota policy', () => {
    assert.ok(operationNames(POLICIES.values()).local.has('getUsage'));
    assert.ok(!operationNames([...POLICIES.values()].filter((p) => p.name !== 'quota')).local.has('getUsage'));
  });
});
