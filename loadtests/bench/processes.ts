// Child processes of the benchmark: spawn, readiness, and cleanup (their
// loopback ports come from ports.ts). Every child belongs to one
// ProcessGroup; the group stops them all (SIGTERM, then SIGKILL) and aborts
// its signal when one dies early.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ORPHAN_GUARD = fileURLToPath(new URL('./orphan-guard.ts', import.meta.url));
const OUTPUT_TAIL_CHARS = 4000;
const STOP_GRACE_MS = 5000;

/** Lines at warn level or above of a Facet process's output (pino JSON with level labels: platform/logging.ts). */
export function warningLines(output: string): string[] {
  return output.split('\n').filter((line) => /"level":"(warn|error|fatal)"/.test(line));
}

export interface ChildHandle {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last few KB of stdout + stderr, for error messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  readonly exited: Promise<string>;
}

export interface SpawnOptions {
  name: string;
  script: string;
  /** Arguments after the script. */
  args?: string[];
  /**
   * Node options for this child only, before the script (e.g. `['--import',
   * './platform/telemetry/register.ts']` to trace one process): unlike
   * NODE_OPTIONS they reach neither the harness nor the other children.
   */
  nodeArgs?: string[];
  env: Record<string, string>;
  cwd: string;
}

export class ProcessGroup {
  readonly #children = new Set<ChildHandle>();
  readonly #abort = new AbortController();
  readonly #cleanups: (() => void | Promise<void>)[] = [];
  #stopping = false;
  #cpus: string | undefined;

  /**
   * Children spawned from now on run on these CPUs only (a `taskset -c`
   * list: `1`, `0-2`), set before their first instruction (taskset execs the
   * child: same pid). Undefined: wherever the kernel puts them.
   */
  pinChildren(cpus: string | undefined): void {
    this.#cpus = cpus;
  }

  /** Aborted (with the reason) when a child exits while the group is running. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  spawn(options: SpawnOptions): ChildHandle {
    if (this.#stopping) throw new Error(`cannot start ${options.name}: the benchmark is stopping`);
    // BENCH_CPU_PROF=<child name> writes a V8 CPU profile of that child to BENCH_CPU_PROF_DIR (default .tmp/profiles).
    const profile = process.env.BENCH_CPU_PROF === options.name ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR ?? '.tmp/profiles'}`] : [];
    const argv = [...profile, '--import', ORPHAN_GUARD, ...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])];
    const [command, args] = this.#cpus === undefined ? [process.execPath, argv] : ['taskset', ['-c', this.#cpus, process.execPath, ...argv]];
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.script})`);
    let tail = '';
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? String(code)));
    });
    const handle: ChildHandle = { name: options.name, pid: child.pid, child, output: () => tail, exited };
    this.#children.add(handle);
    void exited.then((status) => {
      this.#children.delete(handle);
      if (!this.#stopping && !this.#abort.signal.aborted) {
        this.#abort.abort(new Error(`${options.name} (pid ${handle.pid}) exited unexpectedly (${status})\n${tail}`));
      }
    });
    return handle;
  }

  /**
   * Runs `cleanup` (e.g. removing a temporary file, deleting a run's broker
   * queues) once the children have stopped, last registered first. An async
   * cleanup is awaited by stopAll(); killAllNow() (a synchronous exit) only
   * starts it.
   */
  onStop(cleanup: () => void | Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  /** Stops every child, then runs the cleanups; safe to call more than once. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    const children = [...this.#children];
    this.#children.clear();
    await Promise.all(children.map(stopChild));
    await this.#runCleanups();
  }

  /** Last resort from a synchronous `exit` handler. */
  killAllNow(): void {
    this.#stopping = true;
    for (const handle of this.#children) handle.child.kill('SIGKILL');
    // Synchronously, each in turn: an exit handler runs no later microtask.
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      try {
        void Promise.resolve(cleanup()).catch(() => undefined);
      } catch {
        // Best effort.
      }
    }
  }

  async #runCleanups(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // Best effort: a leftover temporary file must not hide the run's result.
      }
    }
  }
}

async function stopChild(handle: ChildHandle): Promise<void> {
  const { child } = handle;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await handle.exited;
  clearTimeout(timer);
}

/** Polls `url` until it answers 2xx; fails early if the child exits first. */
export async function waitReady(handle: ChildHandle, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: string | undefined;
  void handle.exited.then((status) => (exited = status));
  let lastError = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${handle.name} exited (${exited}) before it was ready\n${handle.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
      lastError = `answered ${response.status}`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(`${handle.name} not ready at ${url} after ${timeoutMs} ms (${lastError})\n${handle.output()}`);
}

/** Pids whose parent is `pid` (scans /proc; empty where there is none). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) is the second after the command name's closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process exited meanwhile.
    }
  }
  return out;
}
