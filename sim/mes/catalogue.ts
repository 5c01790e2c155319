// MES catalogue and the pricing model: deterministic, from material, size,
// finish and polygon count.
import { FINISHES, MATERIALS } from '../../contracts/orders.ts';
import type { OrderParameters, Price } from '../../contracts/orders.ts';
import { SIZE_MM } from '../shared/schemas.ts';

export type MaterialId = (typeof MATERIALS)[number];
export type FinishId = (typeof FINISHES)[number];

export interface Material {
  id: MaterialId;
  name: string;
  density_g_cm3: number;
  price_per_gram_minor: number;
}

export interface Finish {
  id: FinishId;
  name: string;
}

const MATERIAL_INFO: Record<MaterialId, Omit<Material, 'id'>> = {
  gold_18k_yellow: { name: '18k yellow gold', density_g_cm3: 15.5, price_per_gram_minor: 6_200 },
  gold_18k_white: { name: '18k white gold', density_g_cm3: 15.7, price_per_gram_minor: 6_500 },
  gold_14k_rose: { name: '14k rose gold', density_g_cm3: 13.1, price_per_gram_minor: 4_700 },
  platinum_950: { name: 'Platinum 950', density_g_cm3: 20.1, price_per_gram_minor: 3_900 },
  silver_925: { name: 'Sterling silver 925', density_g_cm3: 10.4, price_per_gram_minor: 150 },
};

const FINISH_INFO: Record<FinishId, { name: string; factor: number }> = {
  polished: { name: 'Polished', factor: 1 },
  matte: { name: 'Matte', factor: 1.05 },
  brushed: { name: 'Brushed', factor: 1.08 },
  hammered: { name: 'Hammered', factor: 1.15 },
};

export const CATALOGUE = {
  materials: MATERIALS.map((id): Material => ({ id, ...MATERIAL_INFO[id] })),
  finishes: FINISHES.map((id): Finish => ({ id, name: FINISH_INFO[id].name })),
  size_mm: { min: SIZE_MM.min, max: SIZE_MM.max },
};

/** Share of the bounding cube (size_mm³) that is metal: jewellery is mostly air. */
const FILL_RATIO = 0.05;
const SETUP_FEE_MINOR = 4_500;
/** Labour for detail: per 1,000 polygons, capped. */
const DETAIL_MINOR_PER_KPOLY = 4;
const DETAIL_CAP_MINOR = 12_000;

/** Deterministic quote: same parameters and polygon count, same price. */
export function computePrice(parameters: OrderParameters, polygons: number): Price {
  const material = MATERIAL_INFO[parameters.material];
  const volumeCm3 = Math.pow(parameters.size_mm / 10, 3) * FILL_RATIO;
  const metal = volumeCm3 * material.density_g_cm3 * material.price_per_gram_minor;
  const detail = Math.min(DETAIL_CAP_MINOR, (polygons / 1000) * DETAIL_MINOR_PER_KPOLY);
  const amount = Math.round((SETUP_FEE_MINOR + metal + detail) * FINISH_INFO[parameters.finish].factor);
  return { amount_minor: amount, currency: 'EUR' };
}

/**
 * Simulated pricing time: 2 min base, growing with the square of the polygon
 * count (a 250k-polygon model ≈ 3 min), capped at 30 min (from 1.5M polygons).
 */
export function pricingSeconds(polygons: number): number {
  const complexity = Math.max(0, polygons) / 1_500_000;
  return Math.round(Math.min(1800, 120 + 1680 * complexity * complexity));
}
