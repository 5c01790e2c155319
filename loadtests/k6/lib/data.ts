// Request bodies: a small binary STL, order and quote parameters, customers,
// shipping addresses and Idempotency-Keys.

/** What to make (GET /v1/materials lists what exists). */
export interface Parameters {
  material: string;
  size_mm: number;
  finish: string;
}

export const DEFAULT_PARAMETERS: Parameters = { material: 'gold_18k_yellow', size_mm: 18, finish: 'polished' };

/** A few parameter sets: re-quoting one of these for a model already priced answers 200 at once. */
export const KNOWN_PARAMETERS: readonly Parameters[] = [
  DEFAULT_PARAMETERS,
  { material: 'gold_18k_yellow', size_mm: 16, finish: 'polished' },
  { material: 'gold_18k_yellow', size_mm: 20, finish: 'polished' },
];

/**
 * A binary STL: an 80-byte header, a little-endian uint32 triangle count,
 * then 50 bytes per triangle (normal and three vertices as float32, and a
 * uint16 attribute). `seed` changes the vertices, so each seed is a new file
 * (a new SHA-256: quoting it starts a real price job). The header must not
 * start with "solid", or the file would be taken for an ASCII STL.
 */
export function binaryStl(triangles: number, seed = 0): ArrayBuffer {
  const count = Math.max(1, Math.floor(triangles));
  const buffer = new ArrayBuffer(84 + 50 * count);
  const bytes = new Uint8Array(buffer);
  const header = `facet k6 load test model ${seed}`;
  for (let i = 0; i < 80; i += 1) bytes[i] = i < header.length ? header.charCodeAt(i) & 0x7f : 0x20;
  const view = new DataView(buffer);
  view.setUint32(80, count, true);
  const shift = (seed % 997) / 1000;
  for (let t = 0; t < count; t += 1) {
    const at = 84 + 50 * t;
    const x = t + shift;
    const values = [0, 0, 1, x, 0, 0, x + 1, 0, 0, x, 1, 0];
    for (let v = 0; v < 12; v += 1) view.setFloat32(at + 4 * v, values[v] ?? 0, true);
    view.setUint16(at + 48, 0, true);
  }
  return buffer;
}

/** __VU and __ITER, 0 where k6 does not set them (setup, teardown). */
export function vuIter(): { vu: number; iter: number } {
  return { vu: typeof __VU === 'number' ? __VU : 0, iter: typeof __ITER === 'number' ? __ITER : 0 };
}

/** A number that differs between VUs, iterations and runs. */
export function uniqueSeed(): number {
  const { vu, iter } = vuIter();
  return (vu * 1000003 + iter * 7919 + Date.now() + Math.floor(Math.random() * 1e6)) % 2147483647;
}

/** An Idempotency-Key unique per iteration (1-255 printable ASCII, no spaces): `${__VU}-${__ITER}-${Date.now()}` and a random suffix. */
export function idempotencyKey(): string {
  const { vu, iter } = vuIter();
  return `k6-${vu}-${iter}-${Date.now()}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

export interface Customer {
  name: string;
  email: string;
}

export interface Shipping {
  name: string;
  line1: string;
  city: string;
  postal_code: string;
  country: string;
}

export function customer(n: number): Customer {
  return { name: `Load Test ${n}`, email: `k6.loadtest+${n}@example.com` };
}

export function shipping(n: number): Shipping {
  return { name: `Load Test ${n}`, line1: `${1 + (n % 200)} rue de la Paix`, city: 'Paris', postal_code: '75002', country: 'FR' };
}

export type OrderBody =
  | { quote_id: string; customer: Customer; shipping: Shipping }
  | { model_id: string; parameters: Parameters; customer: Customer; shipping: Shipping };

export function orderFromModel(modelId: string, parameters: Parameters = DEFAULT_PARAMETERS, n = vuIter().iter): OrderBody {
  return { model_id: modelId, parameters, customer: customer(n), shipping: shipping(n) };
}

export function orderFromQuote(quoteId: string, n = vuIter().iter): OrderBody {
  return { quote_id: quoteId, customer: customer(n), shipping: shipping(n) };
}

export function pick<T>(items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(Math.random() * items.length)];
}
