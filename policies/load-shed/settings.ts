// The load-shed policy's global section (`shedding:` in gateway.config.yml).

import type { PolicySettingsSchema } from '../../platform/pipeline/policy.ts';

export const PRIORITY_CLASSES = ['critical', 'write', 'paid-read', 'free-read'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

export interface AdaptiveConcurrencySettings {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  /** How fast the limit follows the gradient (0..1). */
  smoothing: number;
  /** Latency growth tolerated over the no-load latency before the limit shrinks. */
  rttTolerance: number;
  /** Longest gap between two measurements of the no-load latency (the limit held at light load for a few requests); default 30. */
  probeIntervalSec?: number;
}

export interface SheddingSettings {
  enabled: boolean;
  /** Share of an upstream's adaptive limit each class may fill. */
  classShares: Record<PriorityClass, number>;
  /** Event-loop delay (p99, ms) above which each class is shed. */
  eventLoopDelayMs: Record<Exclude<PriorityClass, 'critical'>, number>;
  eventLoopSampleMs: number;
  retryAfterSec: number;
  adaptive: AdaptiveConcurrencySettings;
}

const positiveInt = { type: 'integer', minimum: 1 } as const;
const share = { type: 'number', exclusiveMinimum: 0, maximum: 1 } as const;

const classNumbers = (defaults: Record<string, number>, schema: object) => ({
  type: 'object',
  additionalProperties: false,
  default: defaults,
  properties: Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, { ...schema, default: v }])),
});

export const sheddingSettings: PolicySettingsSchema<SheddingSettings> = {
  section: 'shedding',
  properties: {
    enabled: { type: 'boolean', default: true },
    classShares: classNumbers({ critical: 1, write: 0.9, 'paid-read': 0.75, 'free-read': 0.5 }, share),
    eventLoopDelayMs: classNumbers({ write: 400, 'paid-read': 200, 'free-read': 100 }, positiveInt),
    eventLoopSampleMs: { ...positiveInt, default: 100 },
    retryAfterSec: { ...positiveInt, default: 1 },
    adaptive: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        initialLimit: { ...positiveInt, default: 64 },
        minLimit: { ...positiveInt, default: 8 },
        maxLimit: { ...positiveInt, default: 1024 },
        smoothing: { ...share, default: 0.2 },
        rttTolerance: { type: 'number', minimum: 1, default: 1.5 },
        probeIntervalSec: { ...positiveInt, default: 30 },
      },
    },
  },
  check({ adaptive }) {
    const problems: string[] = [];
    if (adaptive.minLimit > adaptive.maxLimit) problems.push('adaptive.minLimit: must not be larger than maxLimit');
    if (adaptive.initialLimit < adaptive.minLimit || adaptive.initialLimit > adaptive.maxLimit) problems.push('adaptive.initialLimit: must be between minLimit and maxLimit');
    return problems;
  },
};
