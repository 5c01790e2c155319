// Deterministic demo data shared by the CRM and MES simulators.
// Both simulators run as separate processes; generating from the same seed
// gives them the same sellers and orders without sharing a database.

import { FINISHES, MATERIALS, MODEL_FORMATS, ORDER_STATUSES } from '../../contracts/orders.ts';
import type { Order, OrderStatus, Seller } from '../../contracts/orders.ts';

export interface Dataset {
  seed: number;
  sellers: Seller[];
  /** Sorted newest first (created_at desc, then id desc). */
  orders: Order[];
}

export const DEFAULT_SEED = 42;
export const DEFAULT_SELLER_COUNT = 20;
export const DEFAULT_ORDER_COUNT = 50_000;
/** Fixed anchor so the data is the same whatever day it is generated. */
export const DATA_ANCHOR = Date.parse('2026-11-01T00:00:00.000Z');

/** mulberry32: tiny, fast, good enough for test data. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

function randomId(random: () => number, prefix: string, length: number): string {
  let out = prefix;
  for (let i = 0; i < length; i++) out += ID_ALPHABET[Math.floor(random() * ID_ALPHABET.length)];
  return out;
}

function randomHex(random: () => number, length: number): string {
  let out = '';
  // Eight hex digits per draw: the hash only needs to look like one.
  while (out.length < length) out += Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return out.slice(0, length);
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

const SELLER_WORDS = ['Aurum', 'Lumen', 'Carat', 'Opaline', 'Verdant', 'Argent', 'Solace', 'Halo', 'Meridian', 'Ember'];
const SELLER_KINDS = ['Atelier', 'Jewels', 'Goldsmiths', 'Studio', 'Collective'];
const COUNTRIES = ['FR', 'DE', 'IT', 'ES', 'NL', 'BE', 'PT', 'AT'];
const FIRST_NAMES = ['Ana', 'Ben', 'Chloe', 'David', 'Elif', 'Farah', 'Gilles', 'Hana', 'Ivan', 'Julia', 'Karim', 'Lea'];
const LAST_NAMES = ['Martin', 'Rossi', 'Muller', 'Garcia', 'Dubois', 'Jansen', 'Silva', 'Novak', 'Costa', 'Weber'];
const CITIES = ['Paris', 'Berlin', 'Milan', 'Madrid', 'Amsterdam', 'Brussels', 'Lisbon', 'Vienna'];
const PIECES = ['ring', 'pendant', 'earring', 'bracelet', 'brooch', 'signet'];

/**
 * Status by age: recent orders are still moving, old ones are closed.
 * Returns the status for an order `ageDays` old.
 */
function statusForAge(random: () => number, ageDays: number): OrderStatus {
  const r = random();
  if (r < 0.02) return 'CANCELLED';
  if (r < 0.03) return 'REJECTED';
  if (ageDays > 60) return 'CLOSED';
  if (ageDays > 30) return pick(random, ['SHIPPED', 'CLOSED', 'CLOSED'] as const);
  const active: OrderStatus[] = [
    'INITIATED',
    'FILE_UPLOADED',
    'SUBMITTED',
    'PRICE_CALCULATED',
    'MANUFACTURING_APPROVED',
    'MANUFACTURING_STARTED',
    'MANUFACTURING_COMPLETED',
    'PACKAGING',
    'SHIPPED',
  ];
  // Younger orders sit earlier in the flow.
  const progress = Math.min(active.length - 1, Math.floor((ageDays / 30) * active.length + random() * 2));
  return active[progress] as OrderStatus;
}

const PRICED: ReadonlySet<OrderStatus> = new Set(ORDER_STATUSES.slice(3, 10));

export function generateDataset(
  seed: number = DEFAULT_SEED,
  sellerCount: number = DEFAULT_SELLER_COUNT,
  orderCount: number = DEFAULT_ORDER_COUNT,
): Dataset {
  const random = createRandom(seed);
  const sellers: Seller[] = [];
  for (let i = 0; i < sellerCount; i++) {
    const name = `${SELLER_WORDS[i % SELLER_WORDS.length]} ${SELLER_KINDS[(i + Math.floor(i / SELLER_WORDS.length)) % SELLER_KINDS.length]}`;
    sellers.push({
      id: `slr_${String(i + 1).padStart(4, '0')}`,
      name,
      country: pick(random, COUNTRIES),
      created_at: new Date(DATA_ANCHOR - (400 + i * 7) * 86_400_000).toISOString(),
    });
  }

  const yearMs = 365 * 86_400_000;
  const orders: Order[] = [];
  for (let i = 0; i < orderCount; i++) {
    // Skew sellers: a few big ones, a long tail.
    const sellerIndex = Math.min(sellerCount - 1, Math.floor(Math.pow(random(), 1.6) * sellerCount));
    const seller = sellers[sellerIndex] as Seller;
    const createdMs = DATA_ANCHOR - Math.floor(Math.pow(random(), 1.3) * yearMs);
    const ageDays = (DATA_ANCHOR - createdMs) / 86_400_000;
    const status = statusForAge(random, ageDays);
    const updatedMs = Math.min(DATA_ANCHOR, createdMs + Math.floor(random() * Math.max(1, ageDays) * 86_400_000));
    const first = pick(random, FIRST_NAMES);
    const last = pick(random, LAST_NAMES);
    const format = pick(random, MODEL_FORMATS);
    const piece = pick(random, PIECES);
    const polygons = 20_000 + Math.floor(Math.pow(random(), 3) * 2_000_000);
    const material = pick(random, MATERIALS);
    const sizeMm = 5 + Math.floor(random() * 60);
    const city = pick(random, CITIES);
    orders.push({
      id: randomId(random, 'ord_', 12),
      seller_id: seller.id,
      status,
      created_at: new Date(createdMs).toISOString(),
      updated_at: new Date(updatedMs).toISOString(),
      customer: {
        name: `${first} ${last}`,
        email: `${first}.${last}.${i}@example.com`.toLowerCase(),
      },
      model: {
        id: randomId(random, 'mdl_', 12),
        filename: `${piece}-${i}.${format}`,
        format,
        sha256: randomHex(random, 64),
        polygons,
      },
      parameters: { material, size_mm: sizeMm, finish: pick(random, FINISHES) },
      price: PRICED.has(status)
        ? { amount_minor: 15_000 + Math.floor(random() * 400_000), currency: 'EUR' }
        : null,
      shipping: {
        name: `${first} ${last}`,
        line1: `${1 + Math.floor(random() * 200)} ${pick(random, LAST_NAMES)} Street`,
        city,
        postal_code: String(10_000 + Math.floor(random() * 89_999)),
        country: pick(random, COUNTRIES),
      },
      operator_id: PRICED.has(status) && status !== 'PRICE_CALCULATED' ? `op_${1 + Math.floor(random() * 12)}` : null,
    });
  }
  orders.sort(compareNewestFirst);
  return { seed, sellers, orders };
}

/** Newest first; ties broken by id so pagination is stable. */
export function compareNewestFirst(a: Pick<Order, 'created_at' | 'id'>, b: Pick<Order, 'created_at' | 'id'>): number {
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  if (a.id === b.id) return 0;
  return a.id < b.id ? 1 : -1;
}

export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SIM_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`SIM_SEED must be an integer, got "${raw}"`);
  return n;
}
