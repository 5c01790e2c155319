// The order vocabulary every part of Facet speaks: the business's order
// statuses (and the two Facet adds for compensation), the materials, finishes
// and model formats the MES knows, and the shape of an order, its price and
// its customer. The CRM and MES (and their simulators), the gateway, the
// adapters and the canonical bus messages all use these; the public specs'
// enums are checked against them (test/unit/upstream-contract.test.ts).

export const ORDER_STATUSES = [
  'INITIATED',
  'FILE_UPLOADED',
  'SUBMITTED',
  'PRICE_CALCULATED',
  'MANUFACTURING_APPROVED',
  'MANUFACTURING_STARTED',
  'MANUFACTURING_COMPLETED',
  'PACKAGING',
  'SHIPPED',
  'CLOSED',
  // Added by Facet for compensated sagas.
  'CANCELLED',
  'REJECTED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const MATERIALS = ['gold_18k_yellow', 'gold_18k_white', 'gold_14k_rose', 'platinum_950', 'silver_925'] as const;
export const FINISHES = ['polished', 'matte', 'brushed', 'hammered'] as const;
export const MODEL_FORMATS = ['stl', 'obj', '3mf'] as const;

export interface Seller {
  id: string;
  name: string;
  country: string;
  created_at: string;
}

export interface Customer {
  name: string;
  email: string;
}

export interface ShippingAddress {
  name: string;
  line1: string;
  city: string;
  postal_code: string;
  country: string;
}

export interface OrderModel {
  id: string;
  filename: string;
  format: (typeof MODEL_FORMATS)[number];
  sha256: string;
  polygons: number;
}

export interface OrderParameters {
  material: (typeof MATERIALS)[number];
  size_mm: number;
  finish: (typeof FINISHES)[number];
}

export interface Price {
  amount_minor: number;
  currency: 'EUR';
}

export interface Order {
  id: string;
  seller_id: string;
  status: OrderStatus;
  created_at: string;
  updated_at: string;
  customer: Customer;
  model: OrderModel;
  parameters: OrderParameters;
  price: Price | null;
  shipping: ShippingAddress;
  /** Operator who took the order in MES, if any. */
  operator_id: string | null;
}
