// Load shedding for the whole gateway: one adaptive gate per service endpoint
// and one event-loop guard for the process. Decides in O(1), before any
// upstream work; the policy (index.ts) turns a refusal into a 503.

import { performance } from 'node:perf_hooks';
import type { GatewayConfig } from '../../platform/pipeline/config.ts';
import type { PriorityClass, SheddingSettings } from './settings.ts';
import { EventLoopGuard } from './event-loop-guard.ts';
import { FREE_TICKET, UpstreamGate, type Ticket } from './upstream-gate.ts';

export type ShedReason = 'adaptive_limit' | 'event_loop';
export type Admission = { ticket: Ticket } | { shed: ShedReason };

export interface UpstreamSnapshot {
  limit: number;
  inflight: number;
  /** Baseline and recent RTT (ms) the limit is computed from. */
  longRttMs: number;
  shortRttMs: number;
}

export interface SheddingSnapshot {
  enabled: boolean;
  eventLoopDelayMs: number;
  upstreams: Record<string, UpstreamSnapshot>;
}

export interface SheddingOptions {
  /** The process guard; by default one on perf_hooks' event-loop delay histogram. Tests give one with their own delay source. */
  loopGuard?: EventLoopGuard;
}

// Refusals are constants: the overloaded path allocates nothing.
const SHED_LOOP: Admission = Object.freeze({ shed: 'event_loop' as const });
const SHED_LIMIT: Admission = Object.freeze({ shed: 'adaptive_limit' as const });
const ADMIT_FREE: Admission = Object.freeze({ ticket: FREE_TICKET });

export class SheddingService {
  readonly settings: Readonly<SheddingSettings>;
  readonly #gates = new Map<string, UpstreamGate>();
  readonly #guard: EventLoopGuard | undefined;

  constructor(settings: SheddingSettings, serviceEndpoints: readonly string[], options: SheddingOptions = {}) {
    this.settings = settings;
    if (!settings.enabled) return; // admit everything, track nothing
    for (const name of serviceEndpoints) this.#gates.set(name, new UpstreamGate(name, settings.adaptive, settings.classShares));
    this.#guard = options.loopGuard ?? new EventLoopGuard(settings);
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** Starts sampling the event loop (an unref'd timer). */
  start(): this {
    this.#guard?.start();
    return this;
  }

  close(): void {
    this.#guard?.stop();
  }

  /** The gate of one service endpoint (undefined when shedding is off). */
  gate(serviceEndpoint: string): UpstreamGate | undefined {
    return this.#gates.get(serviceEndpoint);
  }

  /** The process guard alone: should a request of class `cls` be shed now? */
  shedByEventLoop(cls: PriorityClass): boolean {
    return this.#guard?.shouldShed(cls) ?? false;
  }

  /** Whether the upstream's gate has room for class `cls` now, without taking it: a request that would be refused anyway can be, before any other work. */
  hasRoom(cls: PriorityClass, serviceEndpoint: string): boolean {
    if (this.#guard === undefined) return true;
    return this.#gateOf(serviceEndpoint).hasRoom(cls);
  }

  /** The upstream's adaptive gate alone: a ticket, or null when its class's share is full. */
  acquire(cls: PriorityClass, serviceEndpoint: string, now: number = performance.now()): Ticket | null {
    if (this.#guard === undefined) return FREE_TICKET;
    return this.#gateOf(serviceEndpoint).tryAcquire(cls, now);
  }

  /** Admit a request of class `cls` bound for `serviceEndpoint`, or say why not. */
  admit(cls: PriorityClass, serviceEndpoint: string, now: number = performance.now()): Admission {
    const guard = this.#guard;
    if (guard === undefined) return ADMIT_FREE;
    if (guard.shouldShed(cls)) return SHED_LOOP;
    const ticket = this.#gateOf(serviceEndpoint).tryAcquire(cls, now);
    return ticket === null ? SHED_LIMIT : { ticket };
  }

  #gateOf(serviceEndpoint: string): UpstreamGate {
    const gate = this.#gates.get(serviceEndpoint);
    if (gate === undefined) throw new Error(`load-shed: unknown service endpoint "${serviceEndpoint}"`);
    return gate;
  }

  /** For /readyz and metrics. */
  snapshot(): SheddingSnapshot {
    const upstreams: Record<string, UpstreamSnapshot> = {};
    for (const [name, gate] of this.#gates) {
      const { limiter } = gate;
      upstreams[name] = { limit: Math.floor(limiter.limit), inflight: gate.inflight, longRttMs: limiter.longRtt, shortRttMs: limiter.shortRtt };
    }
    return { enabled: this.settings.enabled, eventLoopDelayMs: this.#guard?.delayMs ?? 0, upstreams };
  }
}

/**
 * The policy's service (index.ts). Not started: the gateway starts it once
 * its routes are compiled, so start-up work is not read as overload.
 */
export function createSheddingService(config: { shedding: SheddingSettings; serviceEndpoints: GatewayConfig['serviceEndpoints'] }, options: SheddingOptions = {}): SheddingService {
  return new SheddingService(config.shedding, Object.keys(config.serviceEndpoints), options);
}
