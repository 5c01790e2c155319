// Spawning real Facet processes for end-to-end tests.

import { spawn, type ChildProcess } from 'node:child_process';

// One implementation for the tests and the benchmark harness.
export { freePort, freeStablePort } from '../../loadtests/bench/ports.ts';
export { warningLines } from '../../loadtests/bench/processes.ts';

/** How long stop() waits for an exit before SIGKILL (a graceful stop takes a few seconds). */
const STOP_GRACE_MS = 30_000;

export interface RunningProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `node <script>` and resolves once stdout matches `ready`. */
export async function startProcess(script: string, env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 30_000): Promise<RunningProcess> {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready after ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    // A process that ignores the signal is killed after STOP_GRACE_MS (the
    // exit code is then null), so a hung shutdown fails its test, never the run.
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => {
        err += `\n[test harness] no exit ${STOP_GRACE_MS} ms after ${signal}: SIGKILL\n`;
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      return exited.finally(() => clearTimeout(timer));
    },
  };
}
