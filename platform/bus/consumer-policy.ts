// What both implementations decide the same way: consumer spec defaults and
// validation, and what happens to a delivery after its handler returned.

import type { ConsumerSpec, Handler, Delivery, HandlerResult, ExchangeName } from './types.ts';

export const DEFAULT_PREFETCH = 10;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1000, 5000, 30000];

export interface ResolvedSpec {
  queue: string;
  bindings: { exchange: ExchangeName; pattern: string }[];
  prefetch: number;
  maxAttempts: number;
  retryDelaysMs: number[];
}

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,200}$/;
const PATTERN_WORD = /^([A-Za-z0-9_-]+|\*|#)$/;

/** Applies defaults and rejects a spec that cannot work, naming the field. */
export function resolveSpec(spec: ConsumerSpec): ResolvedSpec {
  const fail = (field: string, why: string): never => {
    throw new TypeError(`consumer spec for queue "${spec.queue}": ${field} ${why}`);
  };
  if (!QUEUE_NAME.test(spec.queue)) fail('queue', 'must be 1-200 of [A-Za-z0-9_.-]');
  if (spec.bindings.length === 0) fail('bindings', 'must not be empty');
  for (const [i, b] of spec.bindings.entries()) {
    if (b.exchange !== 'commands' && b.exchange !== 'events') fail(`bindings[${i}].exchange`, 'must be commands or events');
    if (!b.pattern.split('.').every((w) => PATTERN_WORD.test(w))) fail(`bindings[${i}].pattern`, 'is not a topic pattern');
  }
  const prefetch = spec.prefetch ?? DEFAULT_PREFETCH;
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65535) fail('prefetch', 'must be an integer in 1..65535');
  const maxAttempts = spec.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) fail('maxAttempts', 'must be an integer >= 1');
  const retryDelaysMs = [...(spec.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)];
  if (!retryDelaysMs.every((d) => Number.isInteger(d) && d >= 0 && d <= 2 ** 31 - 1)) fail('retryDelaysMs', 'must be integers >= 0');
  return { queue: spec.queue, bindings: spec.bindings.map((b) => ({ ...b })), prefetch, maxAttempts, retryDelaysMs };
}

export type Outcome =
  | { action: 'ack' }
  | { action: 'retry'; delayMs: number; nextAttempt: number; reason: string }
  | { action: 'dead'; reason: string };

/** The delay before the attempt after `attempt` (1-based); the last level repeats. */
export function delayFor(delays: readonly number[], attempt: number): number {
  if (delays.length === 0) return 0;
  return delays[Math.min(attempt, delays.length) - 1] ?? 0;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Runs the handler; a throw or a malformed answer counts as `'retry'` with a reason. */
export async function runHandler(handler: Handler, delivery: Delivery): Promise<{ result: HandlerResult; reason: string }> {
  try {
    const result = await handler(delivery);
    if (result === 'ack') return { result, reason: '' };
    if (result === 'retry') return { result, reason: 'handler asked for a retry' };
    if (typeof result === 'object' && result !== null && 'dead' in result && typeof result.dead === 'string') return { result, reason: result.dead };
    if (typeof result === 'object' && result !== null && 'retryInMs' in result && typeof result.retryInMs === 'number') return { result, reason: 'handler asked for a retry' };
    if (typeof result === 'object' && result !== null && 'deferInMs' in result && typeof result.deferInMs === 'number') return { result, reason: 'deferred by the handler' };
    return { result: 'retry', reason: `handler returned an unknown result: ${JSON.stringify(result)}` };
  } catch (err) {
    return { result: 'retry', reason: errorText(err) };
  }
}

export function decide(result: HandlerResult, reason: string, attempt: number, spec: ResolvedSpec): Outcome {
  if (result === 'ack') return { action: 'ack' };
  if (typeof result === 'object' && 'deferInMs' in result) {
    // Deferred, not failed: the attempt count stays, so deferrals never dead-letter a message.
    const delayMs = spec.retryDelaysMs.includes(result.deferInMs) ? result.deferInMs : (spec.retryDelaysMs[0] ?? 0);
    return { action: 'retry', delayMs, nextAttempt: attempt, reason };
  }
  const chosen = typeof result === 'object' && 'retryInMs' in result ? result.retryInMs : undefined;
  if (result !== 'retry' && chosen === undefined) return { action: 'dead', reason };
  if (attempt >= spec.maxAttempts) return { action: 'dead', reason: `${reason} (after ${attempt} attempts)` };
  // A handler's own delay only if its delay queue exists (one of the spec's levels).
  const delayMs = chosen !== undefined && spec.retryDelaysMs.includes(chosen) ? chosen : delayFor(spec.retryDelaysMs, attempt);
  return { action: 'retry', delayMs, nextAttempt: attempt + 1, reason };
}
