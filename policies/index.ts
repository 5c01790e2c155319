import type { PolicyDefinition } from '../platform/pipeline/policy.ts';
import { cachePolicy } from './cache/index.ts';
import { idempotencyPolicy } from './idempotency/index.ts';
import { jwtAuthPolicy } from './jwt-auth/index.ts';
import { keyAuthPolicy } from './key-auth/index.ts';
import { loadShedPolicy } from './load-shed/index.ts';
import { proxyPolicy } from './proxy/index.ts';
import { quotaPolicy } from './quota/index.ts';
import { respondPolicy } from './respond/index.ts';
import { validatePolicy } from './validate/index.ts';

/** Every policy a pipeline can name, by name. Add a policy here. */
export const POLICIES: ReadonlyMap<string, PolicyDefinition<never>> = new Map(
  ([keyAuthPolicy, jwtAuthPolicy, loadShedPolicy, cachePolicy, quotaPolicy, idempotencyPolicy, validatePolicy, proxyPolicy, respondPolicy] as PolicyDefinition<never>[]).map((p) => [p.name, p]),
);
