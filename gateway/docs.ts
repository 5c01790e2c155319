// The docs portal: Swagger UI for the seller API at /docs and the internal
// API at /internal/docs, the raw specs, and a page per problem type.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { PROBLEMS, type ProblemCode } from '../platform/errors/catalogue.ts';
import { FacetError } from '../platform/errors/facet-error.ts';
import type { SpecRegistry } from './openapi/specs.ts';
import { readLogo } from './pages.ts';

interface Portal {
  contract: string;
  title: string;
  uiPrefix: string;
  specPrefix: string;
}

const PORTALS: Portal[] = [
  { contract: 'seller', title: 'Facet · Seller API', uiPrefix: '/docs', specPrefix: '/openapi' },
  { contract: 'internal', title: 'Facet · Internal API', uiPrefix: '/internal/docs', specPrefix: '/internal/openapi' },
];

/** Facet's look on Swagger UI: no stock "Explore" box (it pointed at the raw JSON), a calm top bar. */
const THEME_CSS = [
  '.swagger-ui .topbar { background: #0b3b5c; padding: 6px 0; }',
  '.swagger-ui .topbar .download-url-wrapper { display: none; }',
  '.swagger-ui .topbar a.link img { height: 40px; background: #fff; border-radius: 6px; padding: 2px 8px; }',
].join('\n');

export async function registerDocs(app: FastifyInstance, specs: SpecRegistry): Promise<void> {
  const logo = readLogo();
  for (const portal of PORTALS) {
    const contract = specs.specs.get(portal.contract);
    if (!contract) continue;
    const document = contract.document;
    const yamlText = stringify(document);
    // @fastify/swagger decorates the instance it is registered on: one child
    // context per portal keeps the two documents apart.
    await app.register(async (child) => {
      await child.register(swagger, { mode: 'static', specification: { document: document as never } });
      await child.register(swaggerUi, {
        routePrefix: portal.uiPrefix,
        uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true, tryItOutEnabled: true },
        theme: {
          title: portal.title,
          css: [{ filename: 'facet.css', content: THEME_CSS }],
          ...(logo && { favicon: [{ filename: 'facet-logo.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: logo }] }),
        },
        ...(logo && { logo: { type: 'image/svg+xml', content: logo } }),
      });
      child.get(`${portal.specPrefix}.json`, { config: { builtin: true } }, async (_request, reply) => reply.type('application/json').send(JSON.stringify(document)));
      child.get(`${portal.specPrefix}.yaml`, { config: { builtin: true } }, async (_request, reply) => reply.type('application/yaml').send(yamlText));
    });
  }

  // The events' document (AsyncAPI), linked from the seller portal and the console.
  const asyncApiFile = fileURLToPath(new URL('../openapi/asyncapi.yaml', import.meta.url));
  if (existsSync(asyncApiFile)) {
    const asyncApi = readFileSync(asyncApiFile, 'utf8');
    app.get('/asyncapi.yaml', { config: { builtin: true } }, async (_request, reply) => reply.type('application/yaml').send(asyncApi));
  }

  const bySlug = new Map<string, { code: ProblemCode; status: number; title: string; slug: string }>(Object.entries(PROBLEMS).map(([code, kind]) => [kind.slug, { code: code as ProblemCode, ...kind }]));
  app.get('/problems', { config: { builtin: true } }, async () => ({ problems: [...bySlug.values()] }));
  app.get('/problems/:slug', { config: { builtin: true } }, async (request) => {
    const found = bySlug.get((request.params as { slug: string }).slug);
    if (!found) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: 'No such problem type' });
    return found;
  });
}
