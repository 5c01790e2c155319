// The side-by-side of native proxies and Facet (cache-vs-nginx) measures
// each server on one core of its own and the load generator on the others,
// as the hot-path issue's reference run did (servers pinned to one core, wrk
// on the other): then req/s compares what one core of each server does, and
// the load generator never takes the server's core. Unpinned, every process
// shares both cores and the ratio says more about the scheduler.

import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { ProcessGroup } from './processes.ts';

export interface CpuPinning {
  /** The CPU list of every server child (`taskset -c`). */
  servers: string;
  /** The CPU list of the harness, whose event loop is the load generator. */
  loadGenerator: string;
}

function setAffinity(pid: number, cpus: string): void {
  // -a: every thread of the process (libuv's pool, V8's helpers), not only the main one.
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Pins the children `group` spawns from now on to the last CPU and the
 * harness to the others, until the group stops (the harness's affinity is
 * given back then). Undefined, and nothing pinned, on one CPU or without
 * `taskset`.
 */
export function pinServersApartFromLoad(group: ProcessGroup): CpuPinning | undefined {
  const cpus = availableParallelism();
  if (cpus < 2) return undefined;
  const pinning: CpuPinning = { servers: String(cpus - 1), loadGenerator: cpus === 2 ? '0' : `0-${cpus - 2}` };
  try {
    setAffinity(process.pid, pinning.loadGenerator);
  } catch {
    return undefined;
  }
  group.pinChildren(pinning.servers);
  group.onStop(() => {
    group.pinChildren(undefined);
    setAffinity(process.pid, `0-${cpus - 1}`);
  });
  return pinning;
}
