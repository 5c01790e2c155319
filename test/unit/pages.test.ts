// gateway/pages.ts: the console's and the portal's files as the gateway
// serves them: every one with the strict CSP and its type, revalidated by
// ETag; and a deployment without the bundle answers a problem, not a 500.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { PAGES_CSP, registerPages } from '../../gateway/pages.ts';
import { installProblemHandlers } from '../../platform/errors/problem.ts';

const FILES: Record<string, [string, RegExp]> = {
  'console.html': ['/internal/console', /^text\/html/],
  'portal.html': ['/portal', /^text\/html/],
  'console.js': ['/ui/console.js', /^text\/javascript/],
  'console.css': ['/ui/console.css', /^text\/css/],
  'portal.js': ['/ui/portal.js', /^text\/javascript/],
  'portal.css': ['/ui/portal.css', /^text\/css/],
  'facet-logo.svg': ['/ui/facet-logo.svg', /^image\/svg\+xml/],
};

async function appWith(dir: string) {
  const app = Fastify({ logger: false });
  installProblemHandlers(app);
  registerPages(app, dir);
  await app.ready();
  return app;
}

describe('the pages (gateway/pages.ts)', () => {
  const built = mkdtempSync(join(tmpdir(), 'facet-pages-'));
  const empty = mkdtempSync(join(tmpdir(), 'facet-pages-empty-'));
  for (const file of Object.keys(FILES)) writeFileSync(join(built, file), `/* ${file} */`);
  after(() => {
    rmSync(built, { recursive: true, force: true });
    rmSync(empty, { recursive: true, force: true });
  });

  it('serves each file with its type and a CSP allowing this origin only, no inline script or style', async () => {
    assert.doesNotMatch(PAGES_CSP, /unsafe-inline|unsafe-eval|\*|https?:/);
    assert.match(PAGES_CSP, /default-src 'self'/);
    assert.match(PAGES_CSP, /frame-ancestors 'none'/);
    const app = await appWith(built);
    for (const [file, [url, type]] of Object.entries(FILES)) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.match(String(res.headers['content-type']), type, url);
      assert.equal(res.headers['content-security-policy'], PAGES_CSP, url);
      assert.equal(res.body, `/* ${file} */`);
      const again = await app.inject({ url, headers: { 'if-none-match': String(res.headers.etag) } });
      assert.equal(again.statusCode, 304, `${url} revalidates`);
    }
    await app.close();
  });

  it('without a bundle the pages answer 404 problem+json saying how to build them', async () => {
    const app = await appWith(empty);
    const res = await app.inject({ url: '/internal/console' });
    assert.equal(res.statusCode, 404);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.match(res.json().detail, /npm run ui:build/);
    await app.close();
  });
});
