// JSON Schema of gateway.config.yml's structure. Policy actions are checked
// by each policy's own schema afterwards (see validate.ts), so a mistake is
// reported at its exact path, like Kong's per-plugin schemas.

const positiveInt = { type: 'integer', minimum: 1 } as const;
const name = { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' } as const;

export const configSchema = {
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
        properties: {
          description: { type: 'string', default: '' },
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
        },
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
