// express-gateway (the design card's original choice) as a reference row in
// cache-vs-nginx: a plain proxy to the CRM. It is NOT a dependency of Facet:
// the harness installs it from npm into a scratch folder (.tmp/express-gateway,
// kept between runs) and skips the row, with a note, when that fails (no
// network). Run as `node server.js` there, with its own config directory.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';
import { waitReady } from './processes.ts';
import type { ProcessGroup } from './processes.ts';
import { REPO_ROOT } from './repo-root.ts';
import { HOST } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';

export const EXPRESS_GATEWAY_VERSION = '1.16';
const SCRATCH = join(REPO_ROOT, '.tmp', 'express-gateway');
const PACKAGE = join(SCRATCH, 'node_modules', 'express-gateway');

/**
 * express-gateway in the scratch folder, installed with npm when missing.
 * Resolves with why not when it cannot be (the scenario then skips its row).
 */
export async function ensureExpressGateway(): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (existsSync(join(PACKAGE, 'package.json'))) return { ok: true };
  mkdirSync(SCRATCH, { recursive: true });
  writeFileSync(join(SCRATCH, 'package.json'), JSON.stringify({ name: 'facet-bench-express-gateway', private: true }));
  try {
    // --ignore-scripts: nothing of it runs at install time.
    await promisify(execFile)('npm', ['install', `express-gateway@${EXPRESS_GATEWAY_VERSION}`, '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: SCRATCH, timeout: 300_000 });
    return existsSync(join(PACKAGE, 'package.json')) ? { ok: true } : { ok: false, reason: 'npm install finished without the package' };
  } catch (error) {
    return { ok: false, reason: `npm install express-gateway@${EXPRESS_GATEWAY_VERSION} failed: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}` };
  }
}

/** express-gateway proxying every path to `upstream` (no policy but proxy; its Redis emulated in memory). */
export async function startExpressGateway(group: ProcessGroup, upstream: Service): Promise<Service> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'facet-bench-eg-'));
  group.onStop(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(PACKAGE, 'lib', 'config', 'models'), join(dir, 'models'), { recursive: true });
  writeFileSync(
    join(dir, 'gateway.config.yml'),
    `http:
  port: ${port}
  hostname: ${HOST}
apiEndpoints:
  all:
    host: '*'
    paths: '/*'
serviceEndpoints:
  crm:
    url: '${upstream.url}'
policies:
  - proxy
pipelines:
  default:
    apiEndpoints:
      - all
    policies:
      - proxy:
          - action:
              serviceEndpoint: crm
`,
  );
  writeFileSync(
    join(dir, 'system.config.yml'),
    `db:
  redis:
    emulate: true
    namespace: EG
crypto:
  cipherKey: sensitiveKey
  algorithm: aes256
  saltRounds: 10
session:
  secret: bench
  resave: false
  saveUninitialized: false
accessTokens:
  timeToExpiry: 7200000
refreshTokens:
  timeToExpiry: 7200000
authorizationCodes:
  timeToExpiry: 300000
`,
  );
  const server = join(SCRATCH, 'server.js');
  writeFileSync(server, `require('express-gateway')().load(process.env.EG_CONFIG_DIR).run();\n`);
  const handle = group.spawn({ name: 'express-gateway', script: server, env: { EG_CONFIG_DIR: dir, NODE_ENV: 'production', LOG_LEVEL: 'warn' }, cwd: SCRATCH });
  const url = `http://${HOST}:${port}`;
  await waitReady(handle, `${url}/healthz`, 60_000);
  return { name: 'express-gateway', url, process: handle };
}
