// HTTP/1.1 requires a Host header (RFC 9112 §3.2). Node's own check answers
// a bare 400 with no body, unlike every other refusal; it is turned off
// (`requireHostHeader: false` in app.ts) and done here, so the answer is a
// problem+json like the rest (found by test/security/hostile.test.ts).

import type { FastifyInstance } from 'fastify';
import { FacetError } from '../platform/errors/facet-error.ts';
import { sendProblem } from '../platform/errors/problem.ts';

export function installHostRequired(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    if (raw.headers.host === undefined && raw.httpVersionMajor === 1 && raw.httpVersionMinor >= 1) {
      reply.header('x-request-id', request.id);
      sendProblem(request, reply, new FacetError('FACET_ERR_BAD_REQUEST', { detail: 'An HTTP/1.1 request needs a Host header' }));
      return;
    }
    done();
  });
}
