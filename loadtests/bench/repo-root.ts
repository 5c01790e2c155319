// The repository's root directory: where the harness finds the programs it
// starts and the files it reads or writes (gateway.config.yml,
// docs/performance.md), whichever directory `npm run bench` runs from.

import { fileURLToPath } from 'node:url';

const ROOT_URL = new URL('../../', import.meta.url);
export const REPO_ROOT = fileURLToPath(ROOT_URL);

/** The absolute path of `path`, given relative to the repository root (e.g. 'sim/crm/main.ts'). */
export function repoPath(path: string): string {
  return fileURLToPath(new URL(path, ROOT_URL));
}
