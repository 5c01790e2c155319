// The docs portal: Swagger UI for the seller API at /docs and the internal
// API at /internal/docs, the raw specs, and a page per problem type.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { stringify } from 'yaml';
import { PROBLEMS, type ProblemCode } from '../platform/errors/catalogue.ts';
import { FacetError } from '../platform/errors/facet-error.ts';
import type { SpecRegistry } from './openapi/specs.ts';

interface Portal {
  contract: string;
  uiPrefix: string;
  specPrefix: string;
}

const PORTALS: Portal[] = [
  { contract: 'seller', uiPrefix: '/docs', specPrefix: '/openapi' },
  { contract: 'internal', uiPrefix: '/internal/docs', specPrefix: '/internal/openapi' },
];

export async function registerDocs(app: FastifyInstance, specs: SpecRegistry): Promise<void> {
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
      });
      child.get(`${portal.specPrefix}.json`, { config: { builtin: true } }, async (_request, reply) => reply.type('application/json').send(JSON.stringify(document)));
      child.get(`${portal.specPrefix}.yaml`, { config: { builtin: true } }, async (_request, reply) => reply.type('application/yaml').send(yamlText));
    });
  }

  const bySlug = new Map<string, { code: ProblemCode; status: number; title: string; slug: string }>(Object.entries(PROBLEMS).map(([code, kind]) => [kind.slug, { code: code as ProblemCode, ...kind }]));
  app.get('/problems', { config: { builtin: true } }, async () => ({ problems: [...bySlug.values()] }));
  app.get('/problems/:slug', { config: { builtin: true } }, async (request) => {
    const found = bySlug.get((request.params as { slug: string }).slug);
    if (!found) throw new FacetError('FACET_ERR_NOT_FOUND', { detail: 'No such problem type' });
    return found;
  });
}
