// Demo records are written once the state store answers. With REDIS_URL the
// store's connection (offline queue off: a request never waits on a
// reconnect) is often not ready in the first milliseconds after listen, and
// `npm start` used to exit 1 on "State store unavailable: redis connect"
// one start in three. Seeding is a convenience for the docs' examples: it
// waits and retries, and if the store never comes it says so and the
// gateway keeps serving.

import { FacetError } from '../platform/errors/facet-error.ts';

export interface SeedLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface SeedRetry {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** First wait between tries, doubled up to 2 s (default 100 ms). */
  initialDelayMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `seed` until it succeeds or the state store stays away past the deadline. True when seeded. */
export async function seedWhenReady(seed: () => Promise<void>, log: SeedLog, options: SeedRetry = {}): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let delay = options.initialDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      await seed();
      if (attempt > 1) log.info({ attempt }, 'demo records seeded once the state store answered');
      return true;
    } catch (error) {
      if (!(error instanceof FacetError && error.code === 'FACET_ERR_STATE_UNAVAILABLE')) throw error;
      if (Date.now() + delay > deadline) {
        log.warn({ err: error.cause ?? error, attempt }, 'state store still unavailable: demo records not seeded (the docs examples that use them will answer 404)');
        return false;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
