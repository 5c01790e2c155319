// Fastify's per-request child logger, made only when a request logs. Fastify
// makes one per request (pino's child(): the bindings stringified and
// redacted, ~1.5% of a cache hit's CPU) even when nothing is written, which
// at LOG_LEVEL=warn is almost always. This stands in for it: a method of a
// level that is off is a no-op; anything else makes the real child first.

import type { FastifyBaseLogger } from 'fastify';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => {};

type Bindings = Record<string, unknown>;
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];

/** For Fastify's `childLoggerFactory` option. */
export function lazyChildLogger(this: unknown, logger: FastifyBaseLogger, bindings: Bindings, options: ChildOptions): FastifyBaseLogger {
  // A route with its own log level (its child is needed to know what it writes), or a logger that cannot say which levels are on.
  const levels = logger as unknown as { isLevelEnabled?: (level: string) => boolean };
  if ((options && Object.keys(options).length > 0) || typeof levels.isLevelEnabled !== 'function') return logger.child(bindings, options);
  let real: FastifyBaseLogger | undefined;
  const child = (): FastifyBaseLogger => (real ??= logger.child(bindings, options));
  return new Proxy(logger, {
    get(target, property, receiver) {
      if (real) return Reflect.get(real, property, real) as unknown;
      if (typeof property === 'string' && LEVELS.has(property)) {
        // The parent's level is the child's: a level that is off writes nothing.
        if (!levels.isLevelEnabled!.call(target, property)) return noop;
        return (...args: unknown[]) => (child() as unknown as Record<string, (...a: unknown[]) => void>)[property]!(...args);
      }
      if (property === 'child') return (b: Bindings, o?: ChildOptions) => child().child(b, o);
      const value = Reflect.get(child(), property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
    set(_target, property, value) {
      return Reflect.set(child(), property, value);
    },
  });
}
