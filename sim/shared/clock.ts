// Simulated time. Long-running MES work (pricing, manufacturing) is expressed
// in simulated seconds; SIM_TIME_SCALE says how many simulated seconds pass per
// real second (1 = real time, 3600 = one simulated hour per real second).
// Request latencies are real time and never scaled.

export interface SimClock {
  readonly timeScale: number;
  /** Wall-clock timestamp for records (ISO 8601, UTC). */
  nowIso(): string;
  /** Real milliseconds that `simSeconds` simulated seconds take. */
  realMs(simSeconds: number): number;
  /** Runs `fn` after `simSeconds` simulated seconds; returns a cancel function. */
  after(simSeconds: number, fn: () => void): () => void;
  /** Cancels every pending timer; later `after` calls are ignored. */
  close(): void;
}

/** Largest delay setTimeout accepts (about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

export function createClock(timeScale = 1): SimClock {
  if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`timeScale must be > 0, got ${timeScale}`);
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const realMs = (simSeconds: number): number => Math.max(0, (simSeconds * 1000) / timeScale);
  return {
    timeScale,
    nowIso: () => new Date().toISOString(),
    realMs,
    after(simSeconds, fn) {
      if (closed) return () => {};
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          fn();
        },
        Math.min(MAX_TIMEOUT_MS, Math.round(realMs(simSeconds))),
      );
      timer.unref();
      timers.add(timer);
      return () => {
        clearTimeout(timer);
        timers.delete(timer);
      };
    },
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

export function timeScaleFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SIM_TIME_SCALE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`SIM_TIME_SCALE must be a number > 0, got "${raw}"`);
  return n;
}
