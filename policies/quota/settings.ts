// The quota policy's part of the `quota:` section of gateway.config.yml
// (key-auth owns the section's invalidKey* properties: key-guard.ts).

import type { PolicySettingsSchema } from '../../platform/pipeline/policy.ts';

export interface QuotaSettings {
  /** Share of each limit one replica enforces on its own while Redis is unreachable. */
  insuranceShare: number;
  /** Redis command timeout before the insurance limiter decides. */
  redisTimeoutMs: number;
}

export const quotaSettings: PolicySettingsSchema<QuotaSettings> = {
  section: 'quota',
  properties: {
    insuranceShare: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.34 },
    redisTimeoutMs: { type: 'integer', minimum: 1, default: 100 },
  },
  // The shared client's commands (quota counters, the cache lookup they share a round trip with) time out at this.
  redisCommandTimeoutMs: (settings) => settings.redisTimeoutMs,
};
