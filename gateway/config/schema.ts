// JSON Schema of gateway.config.yml's structure. Policy actions are checked
// by each policy's own schema afterwards (see validate.ts), so a mistake is
// reported at its exact path, like Kong's per-plugin schemas. A policy's
// global section (`quota:`, `shedding:`) is that policy's: composeConfigSchema
// adds the sections of the policies the gateway is given.

import type { AnyPolicy } from '../../platform/pipeline/policy.ts';
import { DEFAULT_UPLOAD_SETTINGS } from '../../platform/upstream/settings.ts';

const positiveInt = { type: 'integer', minimum: 1 } as const;
const name = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' } as const;

const rateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['perSecond'],
  properties: {
    perSecond: positiveInt,
    burst: { type: 'integer', minimum: 0, default: 0 },
    burstWindowSec: { ...positiveInt, default: 10 },
  },
} as const;

const limitProperties = {
  rate: rateSchema,
  dailyQuota: positiveInt,
  concurrentPriceJobs: positiveInt,
  uploadMaxBytes: positiveInt,
} as const;

const coreSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['apiEndpoints', 'serviceEndpoints', 'plans', 'consumers', 'pipelines'],
  properties: {
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        host: { type: 'string', minLength: 1, default: '0.0.0.0' },
        bodyLimit: { ...positiveInt, default: 1_048_576 },
        shutdownGraceMs: { ...positiveInt, default: 10_000 },
        // Comma-separated addresses/CIDRs of the proxies in front (nginx, an ingress); empty: none.
        trustProxy: { type: 'string', default: '', pattern: '^[0-9A-Fa-f:.,/ ]*$' },
      },
    },
    contracts: {
      type: 'object',
      default: {},
      propertyNames: name,
      additionalProperties: { type: 'string', minLength: 1 },
    },
    apiEndpoints: {
      type: 'object',
      propertyNames: name,
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['paths'],
        properties: {
          host: { type: 'string', minLength: 1, default: '*' },
          paths: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^/[^\\s?#]*$' } },
          methods: {
            type: 'array',
            minItems: 1,
            default: ['GET'],
            items: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
          },
        },
      },
    },
    serviceEndpoints: {
      type: 'object',
      propertyNames: name,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^https?://[^\\s/]+(/.*)?$' },
          timeoutMs: { ...positiveInt, default: 5000 },
          connections: { ...positiveInt, default: 64 },
          healthPath: { type: 'string', pattern: '^/', default: '/healthz' },
          readiness: { enum: ['required', 'optional'], default: 'optional' },
          uploads: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              idleTimeoutMs: { ...positiveInt, default: DEFAULT_UPLOAD_SETTINGS.idleTimeoutMs },
              maxDurationMs: { ...positiveInt, default: DEFAULT_UPLOAD_SETTINGS.maxDurationMs },
              bulkhead: {
                type: 'object',
                additionalProperties: false,
                default: {},
                properties: {
                  limit: { ...positiveInt, default: DEFAULT_UPLOAD_SETTINGS.bulkhead.limit },
                  queue: { type: 'integer', minimum: 0, default: DEFAULT_UPLOAD_SETTINGS.bulkhead.queue },
                },
              },
            },
          },
          resilience: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              retry: {
                type: 'object',
                additionalProperties: false,
                default: {},
                properties: {
                  maxAttempts: { type: 'integer', minimum: 0, maximum: 5, default: 2 },
                  initialDelayMs: { ...positiveInt, default: 50 },
                  maxDelayMs: { ...positiveInt, default: 1000 },
                },
              },
              breaker: {
                type: 'object',
                additionalProperties: false,
                default: {},
                properties: {
                  failureRateThreshold: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.5 },
                  samplingDurationMs: { ...positiveInt, default: 10_000 },
                  minimumRps: { type: 'number', exclusiveMinimum: 0, default: 2 },
                  halfOpenAfterMs: { ...positiveInt, default: 5_000 },
                },
              },
              bulkhead: {
                type: 'object',
                additionalProperties: false,
                default: {},
                properties: {
                  limit: { ...positiveInt, default: 128 },
                  queue: { type: 'integer', minimum: 0, default: 32 },
                },
              },
            },
          },
        },
      },
    },
    plans: {
      type: 'object',
      propertyNames: name,
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['rate', 'dailyQuota', 'concurrentPriceJobs', 'uploadMaxBytes'],
        properties: {
          description: { type: 'string', default: '' },
          tier: { enum: ['free', 'paid'], default: 'paid' },
          ...limitProperties,
        },
      },
    },
    consumers: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'plan', 'keys'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
          name: { type: 'string', default: '' },
          plan: { type: 'string' },
          keys: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['id', 'sha256'],
              properties: {
                id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
                sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
                revoked: { type: 'boolean', default: false },
              },
            },
          },
          overrides: { type: 'object', additionalProperties: false, properties: limitProperties },
        },
      },
    },
    notifications: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        stream: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            heartbeatMs: { ...positiveInt, default: 15_000 },
            bufferSize: { ...positiveInt, default: 10_000 },
            maxBufferedBytes: { ...positiveInt, default: 262_144 },
            maxStreamsPerOperator: { ...positiveInt, default: 8 },
            maxStreams: { ...positiveInt, default: 2_000 },
          },
        },
      },
    },
    keys: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // A rotated key keeps working this long, so clients can move to its successor.
        rotationOverlapSec: { type: 'integer', minimum: 0, default: 86_400 },
      },
    },
    pipelines: {
      type: 'object',
      propertyNames: name,
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['apiEndpoints', 'policies'],
        properties: {
          apiEndpoints: { type: 'array', minItems: 1, items: { type: 'string' } },
          policies: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', minProperties: 1, maxProperties: 1 },
          },
        },
      },
    },
  },
} as const;

export const stepSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    condition: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
    action: { type: 'object' },
  },
} as const;

/**
 * The whole file's schema: the core above, plus one object per section the
 * policies declare, its properties shared out among them (each property has
 * one owner; two claiming one is a programming error, thrown at start-up).
 */
export function composeConfigSchema(policies: Iterable<AnyPolicy>): object {
  const sections = new Map<string, Map<string, { owner: string; schema: object }>>();
  for (const policy of policies) {
    if (!policy.settings) continue;
    const { section, properties } = policy.settings;
    if (section in coreSchema.properties) throw new Error(`policy ${policy.name}: section "${section}" is the gateway's own`);
    const owned = sections.get(section) ?? new Map<string, { owner: string; schema: object }>();
    for (const [name, schema] of Object.entries(properties)) {
      const other = owned.get(name);
      if (other) throw new Error(`policy ${policy.name}: ${section}.${name} is already declared by policy ${other.owner}`);
      owned.set(name, { owner: policy.name, schema });
    }
    sections.set(section, owned);
  }
  const properties: Record<string, object> = { ...coreSchema.properties };
  for (const [section, owned] of sections) {
    properties[section] = {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: Object.fromEntries([...owned].map(([name, { schema }]) => [name, schema])),
    };
  }
  return { ...coreSchema, properties };
}
