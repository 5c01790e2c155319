// The CRM's and MES's answers as Facet reads them: one operation per
// upstream call the gateway or the saga (adapters/crm, adapters/mes) makes,
// each with the JSON Schema of its 2xx answers. This file is data only: the
// schemas are compiled once at start-up by platform/upstream/operations.ts,
// which checks every answer against them (platform/upstream/contract.ts).
// The shapes are the upstreams' (sim/README.md: the simulators stand in for
// the real systems), narrowed to what Facet reads: every field a handler uses
// is required with its type, closed vocabularies (statuses, materials,
// finishes, formats, currency) are enums, times are RFC 3339 date-times (by
// pattern). Fields Facet does not read are not checked, and extra fields are
// allowed (tolerant reader). test/unit/upstream-contract.test.ts checks the
// simulators' real answers against these schemas and the vocabularies
// against the public specs.

import { FINISHES, MATERIALS, MODEL_FORMATS, ORDER_STATUSES } from './orders.ts';
import type { Order as CrmOrder, OrderParameters, Price } from './orders.ts';

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const status = { type: 'string', enum: [...ORDER_STATUSES] } as const;
const material = { type: 'string', enum: [...MATERIALS] } as const;
const finish = { type: 'string', enum: [...FINISHES] } as const;
const modelFormat = { type: 'string', enum: [...MODEL_FORMATS] } as const;

const price = {
  type: 'object',
  required: ['amount_minor', 'currency'],
  properties: { amount_minor: count, currency: { type: 'string', const: 'EUR' } },
} as const;

const parameters = {
  type: 'object',
  required: ['material', 'size_mm', 'finish'],
  properties: { material, size_mm: { type: 'number', minimum: 1, maximum: 200 }, finish },
} as const;

/** A CRM order: every field the seller's public Order is built from, and seller_id (whose order it is). */
const crmOrder = {
  type: 'object',
  required: ['id', 'seller_id', 'status', 'created_at', 'updated_at', 'customer', 'model', 'parameters', 'price', 'shipping'],
  properties: {
    id: string,
    seller_id: string,
    status,
    created_at: dateTime,
    updated_at: dateTime,
    customer: { type: 'object', required: ['name', 'email'], properties: { name: string, email: string } },
    model: {
      type: 'object',
      required: ['id', 'filename', 'format', 'sha256', 'polygons'],
      properties: { id: string, filename: string, format: modelFormat, sha256: string, polygons: count },
    },
    parameters,
    price: { anyOf: [{ type: 'null' }, price] },
    shipping: {
      type: 'object',
      required: ['name', 'line1', 'city', 'postal_code', 'country'],
      properties: { name: string, line1: string, city: string, postal_code: string, country: string },
    },
    // Status changes made through the API; the last one's reason becomes status_reason.
    history: { type: 'array', items: { type: 'object', properties: { reason: nullableString } } },
  },
} as const;

const page = (item: object) =>
  ({
    type: 'object',
    required: ['items', 'next_cursor'],
    properties: { items: { type: 'array', items: item }, next_cursor: nullableString },
  }) as const;

const dashboardOrder = {
  type: 'object',
  required: ['order_id', 'seller_id', 'seller_name', 'status', 'created_at', 'updated_at', 'model_id', 'material', 'finish', 'operator_id'],
  properties: {
    order_id: string,
    // null for an order the MES first heard of without a seller
    seller_id: nullableString,
    seller_name: nullableString,
    status,
    created_at: dateTime,
    updated_at: dateTime,
    model_id: string,
    material,
    finish,
    operator_id: nullableString,
  },
} as const;

/** A price job: a ready one carries its price. */
const priceJob = {
  type: 'object',
  required: ['id', 'status'],
  properties: {
    id: string,
    status: { type: 'string', enum: ['pending', 'ready', 'failed'] },
    estimated_seconds: { type: 'number', minimum: 0 },
    price: { anyOf: [{ type: 'null' }, price] },
    error: nullableString,
  },
  if: { properties: { status: { const: 'ready' } } },
  then: { required: ['price'], properties: { price } },
} as const;

/** What the saga reads of an order it wrote: that it is this order, and its status now. */
const crmOrderRef = { type: 'object', required: ['id', 'status'], properties: { id: string, status } } as const;

/** A manufacturing job as the saga reads it (its status only goes into a log line). */
const manufacturingJob = { type: 'object', required: ['order_id', 'status'], properties: { order_id: string, status: string } } as const;

const modelMeta = {
  type: 'object',
  required: ['id', 'sha256', 'size_bytes', 'format', 'polygons', 'filename', 'created_at'],
  properties: { id: string, sha256: string, size_bytes: count, format: modelFormat, polygons: count, filename: string, created_at: dateTime },
} as const;

const catalogue = {
  type: 'object',
  required: ['materials', 'finishes', 'size_mm'],
  properties: {
    materials: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'density_g_cm3', 'price_per_gram_minor'],
        properties: { id: material, name: string, density_g_cm3: { type: 'number', exclusiveMinimum: 0 }, price_per_gram_minor: count },
      },
    },
    finishes: { type: 'array', items: { type: 'object', required: ['id', 'name'], properties: { id: finish, name: string } } },
    size_mm: { type: 'object', required: ['min', 'max'], properties: { min: { type: 'integer', minimum: 1 }, max: { type: 'integer', minimum: 1 } } },
  },
} as const;

export interface CrmOrderPage {
  items: CrmOrderAnswer[];
  next_cursor: string | null;
}
/** A CRM order as validated: operator_id (not read) is left out. */
export type CrmOrderAnswer = Omit<CrmOrder, 'operator_id'> & { history?: { reason?: string | null }[] };

export interface MesDashboardPage {
  items: {
    order_id: string;
    seller_id: string | null;
    seller_name: string | null;
    status: CrmOrder['status'];
    created_at: string;
    updated_at: string;
    model_id: string;
    material: OrderParameters['material'];
    finish: OrderParameters['finish'];
    operator_id: string | null;
  }[];
  next_cursor: string | null;
}

export interface MesPriceJob {
  id: string;
  status: 'pending' | 'ready' | 'failed';
  estimated_seconds?: number;
  price?: Price | null;
  error?: string | null;
}

export interface CrmOrderRef {
  id: string;
  status: CrmOrder['status'];
}

export interface MesManufacturingJob {
  order_id: string;
  status: string;
}

export interface MesModel {
  id: string;
  sha256: string;
  size_bytes: number;
  format: CrmOrder['model']['format'];
  polygons: number;
  filename: string;
  created_at: string;
}

/** What one upstream operation promises: the JSON Schema of its body by 2xx status. */
export interface AnswerContract<T> {
  /** `GET /crm/orders/{id}`. */
  readonly name: string;
  /** What the answer is, for the client's detail: `an order`, `the catalogue`. */
  readonly what: string;
  /** JSON Schema of the body by 2xx status. */
  readonly responses: Readonly<Record<number, object>>;
  /** Remove fields the schema does not name (for answers relayed to a client as they are). */
  readonly strip?: boolean;
  /**
   * A top-level field naming whose record the answer is (`seller_id`), read
   * even from an answer that breaks the contract: a broken record of another
   * seller can then be answered like a missing one, not told apart by a 502.
   */
  readonly owner?: string;
  /** The body's type once checked (compile time only). */
  readonly answer?: T;
}

function answer<T>(definition: Omit<AnswerContract<T>, 'answer'>): AnswerContract<T> {
  return definition;
}

export const CRM_ANSWERS = {
  listOrders: answer<CrmOrderPage>({ name: 'GET /crm/orders', what: 'a page of orders', responses: { 200: page(crmOrder) } }),
  getOrder: answer<CrmOrderAnswer>({ name: 'GET /crm/orders/{id}', what: 'an order', responses: { 200: crmOrder }, owner: 'seller_id' }),
  // The saga's writes. 201: created; 200: the order already existed (same id).
  createOrder: answer<CrmOrderRef>({ name: 'POST /crm/orders', what: 'an order', responses: { 200: crmOrderRef, 201: crmOrderRef } }),
  setStatus: answer<CrmOrderRef>({ name: 'POST /crm/orders/{id}/status', what: 'an order', responses: { 200: crmOrderRef } }),
} as const;

export const MES_ANSWERS = {
  dashboardOrders: answer<MesDashboardPage>({ name: 'GET /mes/dashboard/orders', what: 'a page of dashboard orders', responses: { 200: page(dashboardOrder) } }),
  uploadModel: answer<MesModel>({ name: 'POST /mes/models', what: 'a model record', responses: { 201: modelMeta } }),
  // 202: a new job; 200: the job this order already has.
  submitPriceJob: answer<MesPriceJob>({ name: 'POST /mes/price-jobs', what: 'a price job', responses: { 200: priceJob, 202: priceJob } }),
  getPriceJob: answer<MesPriceJob>({ name: 'GET /mes/price-jobs/{id}', what: 'a price job', responses: { 200: priceJob } }),
  // The saga's: an order's price jobs, oldest first (after a crash), and its manufacturing job.
  priceJobsOfOrder: answer<{ items: MesPriceJob[] }>({
    name: 'GET /mes/price-jobs',
    what: 'a list of price jobs',
    responses: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: priceJob } } } },
  }),
  // 202: started; 200: the order's job already existed.
  startManufacturing: answer<MesManufacturingJob>({ name: 'POST /mes/manufacturing', what: 'a manufacturing job', responses: { 200: manufacturingJob, 202: manufacturingJob } }),
  cancelManufacturing: answer<MesManufacturingJob>({ name: 'POST /mes/manufacturing/{order_id}/cancel', what: 'a manufacturing job', responses: { 200: manufacturingJob } }),
  /** Relayed to sellers as it is (pass-through): fields the schema does not name are removed. */
  materials: answer<unknown>({ name: 'GET /mes/materials', what: 'the catalogue', responses: { 200: catalogue }, strip: true }),
} as const;
