// Vary on the credential: an answer depends on who asked, so a browser (or
// any shared cache) must never serve one caller's answer to another key or
// token. Added by the authentication policies and the cache.

import type { FastifyReply } from 'fastify';

/** Adds `names` to the reply's Vary header, keeping what it has and naming each header once. */
export function addVary(reply: FastifyReply, ...names: string[]): void {
  const current = reply.getHeader('vary');
  const listed = typeof current === 'string' ? current.split(',').map((n) => n.trim()).filter(Boolean) : [];
  if (listed.includes('*')) return;
  const seen = new Set(listed.map((n) => n.toLowerCase()));
  for (const name of names) {
    if (seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    listed.push(name);
  }
  reply.header('vary', listed.join(', '));
}
