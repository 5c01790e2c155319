// How the harness starts one of the system's own programs (a simulator, the
// gateway, the adapters) as a child process: on a loopback port the harness
// picked, from the repository root, ready once its health URL answers 2xx.
// The launchers of each part (simulator-services.ts, gateway-service.ts,
// adapters-service.ts) give it the part's script and environment.

import type { ChildHandle, ProcessGroup } from './processes.ts';
import { waitReady } from './processes.ts';
import { REPO_ROOT, repoPath } from './repo-root.ts';

/** Every child listens on loopback only. */
export const HOST = '127.0.0.1';

export interface Service {
  readonly name: string;
  /** Base URL of the API port, e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** Base URL of the admin port (simulators: /_sim/faults), when there is one. */
  readonly adminUrl?: string;
  readonly process: ChildHandle;
}

/** Starts `script` (relative to the repository root) in `group` and waits until `readyPath` on `port` answers 2xx. */
export async function startService(
  group: ProcessGroup,
  name: string,
  script: string,
  port: number,
  env: Record<string, string>,
  adminPort?: number,
  nodeArgs?: string[],
  readyPath = '/healthz',
): Promise<Service> {
  const url = `http://${HOST}:${port}`;
  const handle = group.spawn({ name, script: repoPath(script), env, cwd: REPO_ROOT, ...(nodeArgs ? { nodeArgs } : {}) });
  await waitReady(handle, `${url}${readyPath}`);
  return adminPort === undefined ? { name, url, process: handle } : { name, url, adminUrl: `http://${HOST}:${adminPort}`, process: handle };
}
