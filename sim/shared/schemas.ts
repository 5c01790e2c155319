// JSON Schemas for request bodies (validated by Fastify's ajv; errors → 400 {error, field}).
import { FINISHES, MATERIALS, MODEL_FORMATS, ORDER_STATUSES } from '../../contracts/orders.ts';

export const SIZE_MM = { min: 1, max: 200 } as const;

const text = { type: 'string', minLength: 1, maxLength: 500 } as const;

export const idSchema = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;

export const parametersSchema = {
  type: 'object',
  required: ['material', 'size_mm', 'finish'],
  additionalProperties: false,
  properties: {
    material: { type: 'string', enum: [...MATERIALS] },
    size_mm: { type: 'number', minimum: SIZE_MM.min, maximum: SIZE_MM.max },
    finish: { type: 'string', enum: [...FINISHES] },
  },
} as const;

export const statusSchema = { type: 'string', enum: [...ORDER_STATUSES] } as const;

export const priceSchema = {
  type: 'object',
  required: ['amount_minor', 'currency'],
  additionalProperties: false,
  properties: {
    amount_minor: { type: 'integer', minimum: 0 },
    currency: { type: 'string', const: 'EUR' },
  },
} as const;

export const orderModelSchema = {
  type: 'object',
  required: ['id', 'filename', 'format', 'sha256', 'polygons'],
  additionalProperties: false,
  properties: {
    id: idSchema,
    filename: text,
    format: { type: 'string', enum: [...MODEL_FORMATS] },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    polygons: { type: 'integer', minimum: 0 },
  },
} as const;

export const customerSchema = {
  type: 'object',
  required: ['name', 'email'],
  additionalProperties: false,
  properties: { name: text, email: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', maxLength: 320 } },
} as const;

export const shippingSchema = {
  type: 'object',
  required: ['name', 'line1', 'city', 'postal_code', 'country'],
  additionalProperties: false,
  properties: {
    name: text,
    line1: text,
    city: text,
    postal_code: { type: 'string', minLength: 1, maxLength: 20 },
    country: { type: 'string', pattern: '^[A-Z]{2}$' },
  },
} as const;

/** Ajv settings for the simulators: no type coercion, no silent removal. */
export const STRICT_AJV = { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } } as const;
