// Response headers every answer carries, whatever produced it (routes,
// problems, the docs portal). CORS policy: none. The seller API is called
// from sellers' servers with a secret key, and the docs portal calls the
// API from its own origin, so no cross-origin browser access is granted:
// no Access-Control-* header is ever sent, and a preflight from another
// origin gets no Access-Control-Allow-Origin (browsers then refuse).

import type { FastifyInstance } from 'fastify';

const HEADERS: Record<string, string> = {
  // Browsers must not guess a type (a JSON body sniffed as HTML).
  'x-content-type-options': 'nosniff',
  // No framing of the docs portal or any answer (clickjacking).
  'x-frame-options': 'DENY',
  // URLs carry ids and cursors: do not leak them to other sites.
  'referrer-policy': 'no-referrer',
  // Other origins cannot load answers as images, scripts or media.
  'cross-origin-resource-policy': 'same-origin',
};

export function installSecurityHeaders(app: FastifyInstance): void {
  // A callback hook over a list made once: no promise and no entries array per answer (it runs on every one).
  const headers = Object.entries(HEADERS);
  app.addHook('onSend', (_request, reply, payload, done) => {
    for (const [name, value] of headers) if (!reply.hasHeader(name)) reply.header(name, value);
    // Say nothing about the software behind the gateway (upstream pass-through included).
    reply.removeHeader('x-powered-by');
    reply.removeHeader('server');
    done(null, payload);
  });
}
