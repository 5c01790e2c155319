// scripts/licences.ts: the allow-list logic, and the lockfile read whole.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { licenceAllowed, productionDependencies } from '../../scripts/licences.ts';

describe('licences check', () => {
  it('allows permissive licences and SPDX choices among them, refuses copyleft and unknown', () => {
    for (const ok of ['MIT', 'ISC', 'Apache-2.0', '(MIT OR Apache-2.0)', '(MIT OR GPL-3.0-only)', 'BSD-3-Clause AND MIT', 'BlueOak-1.0.0']) assert.ok(licenceAllowed(ok), ok);
    for (const no of ['GPL-3.0-only', 'AGPL-3.0', 'MIT AND GPL-2.0', 'SSPL-1.0', 'UNKNOWN', 'UNLICENSED', '', 'SEE LICENSE IN LICENSE.md']) assert.ok(!licenceAllowed(no), no);
  });

  it('lists every production package of the lockfile, none failing', () => {
    const deps = productionDependencies();
    assert.ok(deps.length > 100, `only ${deps.length}`);
    for (const name of ['fastify', 'ioredis', 'amqplib', 'jose', 'undici']) assert.ok(deps.some((d) => d.name === name), name);
    assert.ok(!deps.some((d) => ['typescript', 'eslint', 'fast-check'].includes(d.name)), 'devDependencies are not production ones');
    assert.deepEqual(deps.filter((d) => d.problems.length > 0).map((d) => `${d.name}: ${d.problems.join('; ')}`), []);
  });
});
