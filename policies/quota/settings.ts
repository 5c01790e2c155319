// The quota policy's part of the `quota:` section of gateway.config.yml
// (key-auth owns the section's invalidKey* properties: key-guard.ts).

import type { PolicySettingsSchema } from '../../platform/pipeline/policy.ts';

export interface LeaseSettings {
  /** Lease size as a share of a window's limit (0.05: 5% of the per-second rate). */
  share: number;
  /** A window whose limit is below this is counted in Redis request by request (a lease would matter there). */
  minLimit: number;
  /** The largest lease, whatever the limit. */
  maxUnits: number;
  /** Lease size per plan, overriding the share (0: no lease for that plan). */
  plans: Record<string, number>;
}

export interface QuotaSettings {
  /** Share of each limit one replica enforces on its own while Redis is unreachable. */
  insuranceShare: number;
  /** Redis command timeout before the insurance limiter decides. */
  redisTimeoutMs: number;
  /**
   * Each replica leases units of a seller's windows from Redis and spends
   * them locally (lease.ts): a Redis round trip every few requests instead
   * of on each. Over-admission across N replicas is at most N × lease units
   * per window (docs/architecture.md, quota).
   */
  lease: LeaseSettings;
}

export const quotaSettings: PolicySettingsSchema<QuotaSettings> = {
  section: 'quota',
  properties: {
    insuranceShare: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.34 },
    redisTimeoutMs: { type: 'integer', minimum: 1, default: 100 },
    lease: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        share: { type: 'number', minimum: 0, maximum: 0.5, default: 0.05 },
        minLimit: { type: 'integer', minimum: 1, default: 40 },
        maxUnits: { type: 'integer', minimum: 1, default: 100 },
        plans: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, default: {} },
      },
    },
  },
  // The shared client's commands (quota counters, the cache lookup they share a round trip with) time out at this.
  redisCommandTimeoutMs: (settings) => settings.redisTimeoutMs,
};

/**
 * Units one replica leases at a time from a window of `limit` units (plan
 * `plan`); 0 or 1 means no lease: every request is counted in Redis.
 */
export function leaseUnits(settings: LeaseSettings, plan: string, limit: number): number {
  if (limit < settings.minLimit) return 0;
  const planned = settings.plans[plan];
  const units = planned ?? Math.floor(limit * settings.share);
  return Math.min(settings.maxUnits, units, Math.floor(limit / 2));
}
