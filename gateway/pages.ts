// The pages people use: the operators' console at /internal/console and the
// seller portal at /portal, with their scripts, styles and Facet's logo under
// /ui/. The pages are bundled beforehand (scripts/build-ui.ts → ui/dist/, run
// by `npm start` and the image's build): the gateway only serves files, read
// once at start-up. They call the public and internal APIs with the same
// credentials as any client, so they need nothing else from the gateway.
//
// Every answer carries a strict Content-Security-Policy: scripts, styles,
// images and requests from this origin only, no inline script or style, no
// framing. Nothing a page shows comes from another host.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { FacetError } from '../platform/errors/facet-error.ts';

export const PAGES_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The default bundle directory (scripts/build-ui.ts writes it). */
export const UI_DIST = fileURLToPath(new URL('../ui/dist/', import.meta.url));

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

/** Route → file in the bundle directory. */
const ROUTES: Record<string, { file: string; type: string }> = {
  '/internal/console': { file: 'console.html', type: 'text/html; charset=utf-8' },
  '/portal': { file: 'portal.html', type: 'text/html; charset=utf-8' },
  '/ui/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/ui/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/ui/portal.js': { file: 'portal.js', type: 'text/javascript; charset=utf-8' },
  '/ui/portal.css': { file: 'portal.css', type: 'text/css; charset=utf-8' },
  '/ui/facet-logo.svg': { file: 'facet-logo.svg', type: 'image/svg+xml' },
};

/** The logo alone, for the docs portal (Swagger UI's logo option). */
export function readLogo(dir = UI_DIST): Buffer | undefined {
  const fromDist = `${dir}facet-logo.svg`;
  const source = fileURLToPath(new URL('../ui/assets/facet-logo.svg', import.meta.url));
  for (const file of [fromDist, source]) if (existsSync(file)) return readFileSync(file);
  return undefined;
}

function loadAssets(dir: string): Map<string, Asset> | undefined {
  if (!existsSync(`${dir}console.html`)) return undefined;
  const assets = new Map<string, Asset>();
  for (const [route, { file, type }] of Object.entries(ROUTES)) {
    const path = `${dir}${file}`;
    if (!existsSync(path)) continue;
    const body = readFileSync(path);
    assets.set(route, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

export function registerPages(app: FastifyInstance, dir = UI_DIST): void {
  const assets = loadAssets(dir.endsWith('/') ? dir : `${dir}/`);
  if (!assets) app.log.warn({ dir }, 'the console and portal are not built (npm run ui:build): their pages answer 404');
  for (const route of Object.keys(ROUTES)) {
    app.get(route, { config: { builtin: true } }, async (request, reply) => {
      const asset = assets?.get(route);
      if (!asset) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: 'The pages are not built in this deployment (npm run ui:build)' });
      reply.header('content-security-policy', PAGES_CSP);
      reply.header('etag', asset.etag);
      // Revalidated each time (a new bundle must show at once); a 304 costs a round trip only.
      reply.header('cache-control', 'no-cache');
      if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
      return reply.type(asset.type).send(asset.body);
    });
  }
}
