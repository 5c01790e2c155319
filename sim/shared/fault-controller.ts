// Live fault state of one simulator and its effect on the API listener.
import type { Socket } from 'node:net';
import { DEFAULT_FAULTS } from './faults.ts';
import type { Faults } from './faults.ts';
import type { ApiListener } from './listener.ts';

/** Holds API requests while the `hang` fault is on. */
export class HangGate {
  private readonly waiters = new Set<(released: boolean) => void>();

  /** Resolves true when the hang is cleared, false if the socket closes first. */
  wait(socket: Socket): Promise<boolean> {
    return new Promise((resolve) => {
      const onClose = (): void => settle(false);
      const settle = (released: boolean): void => {
        socket.off('close', onClose);
        this.waiters.delete(settle);
        resolve(released);
      };
      if (socket.destroyed) return resolve(false);
      socket.once('close', onClose);
      this.waiters.add(settle);
    });
  }

  release(released = true): void {
    for (const settle of [...this.waiters]) settle(released);
  }

  get size(): number {
    return this.waiters.size;
  }
}

export class FaultController {
  private state: Faults;
  private readonly listener: ApiListener;
  readonly hang = new HangGate();
  /** Changes apply one at a time, so a re-listen never races a close. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(listener: ApiListener, initial: Partial<Faults> = {}) {
    this.listener = listener;
    this.state = { ...DEFAULT_FAULTS, ...initial };
  }

  get(): Faults {
    return { ...this.state };
  }

  /**
   * Merges `patch` into the faults and applies it. Going down is immediate
   * (listener closed, sockets destroyed) except for `spare`, the socket of the
   * request asking for it, which the caller destroys after answering. Coming
   * back up resolves once the port listens again.
   */
  set(patch: Partial<Faults>, spare?: Socket): Promise<Faults> {
    const next = this.queue.then(() => this.apply(patch, spare));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async apply(patch: Partial<Faults>, spare?: Socket): Promise<Faults> {
    this.state = { ...this.state, ...patch };
    if (!this.state.hang) this.hang.release(true);
    if (this.state.down && this.listener.isUp) this.listener.down(spare);
    if (!this.state.down && !this.listener.isUp) await this.listener.listen();
    return this.get();
  }

  reset(spare?: Socket): Promise<Faults> {
    return this.set({ ...DEFAULT_FAULTS }, spare);
  }
}
