// Exponential backoff with jitter on the bus's delay queues. A delay level
// is one TTL queue (FIFO expiry stays exact), so jitter is quantised: each
// level of the schedule exists in four variants (×0.8, ×0.93, ×1.07, ×1.2)
// and every retry picks one at random. Deliveries that failed together (a
// receiver down) then come back spread over ±20 % of the level instead of
// all at once.

import { delayFor } from '../../platform/bus/consumer-policy.ts';

export const JITTER_FACTORS: readonly number[] = [0.8, 0.93, 1.07, 1.2];

/** Every delay a retry may take, ascending: the consumer's `retryDelaysMs` (their delay queues get declared). */
export function jitteredLevels(schedule: readonly number[]): number[] {
  return [...new Set(schedule.flatMap((base) => JITTER_FACTORS.map((f) => Math.round(base * f))))].sort((a, b) => a - b);
}

/** The delay before the attempt after `attempt`: the schedule's level, one of its variants at random. */
export function jitteredDelay(schedule: readonly number[], attempt: number, random: () => number = Math.random): number {
  const base = delayFor(schedule, attempt);
  const factor = JITTER_FACTORS[Math.min(JITTER_FACTORS.length - 1, Math.floor(random() * JITTER_FACTORS.length))] as number;
  return Math.round(base * factor);
}
