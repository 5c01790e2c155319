// The shared messaging layer. `createBus({ url })` talks to RabbitMQ;
// without a url it returns the in-process bus (the embedded default) and
// says so in the log. Topology: TOPOLOGY.md.

import { MemoryBus } from './memory-bus.ts';
import { RabbitBus, type RabbitBusOptions } from './rabbit-bus.ts';
import type { Bus, BusLogger } from './types.ts';
import { BusTimeoutError } from './errors.ts';

export type * from './types.ts';
export { BusError, BusTimeoutError, BusUnavailableError, BusUnroutableError, isBusError, isBusTimeout, isBusUnavailable, isBusUnroutable, type BusErrorCode } from './errors.ts';
export { DEFAULT_DELIVERY_LIMIT, DEFAULT_PREFIX, Topology } from './topology.ts';
export { DEFAULT_MAX_ATTEMPTS, DEFAULT_PREFETCH, DEFAULT_RETRY_DELAYS_MS } from './consumer-policy.ts';
export { MemoryBus } from './memory-bus.ts';
export { RabbitBus, type RabbitBusOptions } from './rabbit-bus.ts';

export interface CreateBusOptions extends Partial<Omit<RabbitBusOptions, 'logger'>> {
  /** amqp(s):// URL (AMQP_URL), or several comma-separated (a cluster). Absent → in-process bus. */
  url?: string;
  /** pino or anything with the same four methods; default silent. */
  logger?: BusLogger;
}

const silent: BusLogger = { info() {}, warn() {}, error() {}, debug() {} };

export function createBus(options: CreateBusOptions = {}): Bus {
  const logger = options.logger ?? silent;
  if (!options.url) {
    logger.info({ bus: 'memory' }, 'no AMQP_URL: using the in-process message bus (nothing survives a restart)');
    return new MemoryBus({ metrics: options.metrics });
  }
  return new RabbitBus({ ...options, url: options.url, logger });
}

/**
 * The bus settings a process reads from its environment: AMQP_URL (one URL,
 * or several comma-separated: the nodes of a cluster), AMQP_PREFIX and
 * AMQP_QUORUM_GROUP_SIZE (unset: the broker's default placement).
 */
export function busOptionsFromEnv(env: NodeJS.ProcessEnv): Pick<CreateBusOptions, 'url' | 'prefix' | 'quorumGroupSize'> {
  const raw = env.AMQP_QUORUM_GROUP_SIZE?.trim();
  const size = raw ? Number(raw) : undefined;
  if (size !== undefined && (!Number.isInteger(size) || size < 1)) throw new TypeError(`AMQP_QUORUM_GROUP_SIZE must be an integer >= 1, got "${raw}"`);
  return {
    ...(env.AMQP_URL ? { url: env.AMQP_URL } : {}),
    ...(env.AMQP_PREFIX ? { prefix: env.AMQP_PREFIX } : {}),
    ...(size !== undefined ? { quorumGroupSize: size } : {}),
  };
}

/** Resolves once the bus is connected; rejects with BusTimeoutError after `timeoutMs`. */
export function waitForConnection(bus: Bus, timeoutMs: number): Promise<void> {
  if (bus.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new BusTimeoutError(timeoutMs, `bus not connected within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = bus.onStateChange((state) => {
      if (state !== 'connected') return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}
