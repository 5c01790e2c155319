// Refresh-ahead: the dashboard's first pages are refreshed before they
// expire, at 80% of their fresh TTL, by whichever replica takes a page's
// refresh lock, so an operator never waits on the MES for them. A refresh is
// a request the gateway sends through its own route, in process, as its
// internal operator (platform/pipeline/internal-caller.ts): authenticated,
// shed, validated and handled like an operator's, with `Cache-Control:
// no-cache` (RFC 9111: do not answer from the cache without asking the
// origin), which the cache policy honours from the internal caller only: a
// seller or an operator cannot make the gateway skip its cache.

import type { PolicyHost } from '../../platform/pipeline/policy.ts';
import { hashParameters, type CacheService } from './cache-service.ts';
import { DASHBOARD_SCOPE } from './scopes.ts';

export const REFRESH_DIRECTIVE = 'no-cache';

/** `?status=SUBMITTED&...` for a configured query (arrays as repeated parameters), or '' for none. */
export function refreshAheadQuery(query: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export interface RefreshAheadOptions {
  cache: CacheService;
  inject: PolicyHost['inject'];
  /** The route's Fastify path (no parameters: the dashboard list). */
  routePath: string;
  /** The route's part of the cache key. */
  routeKey: string;
  freshMs: number;
  /** The configured queries, as operators send them. */
  queries: Record<string, unknown>[];
}

/** Registers the refresh job with the cache service (it runs from the service's start()). */
export function scheduleRefreshAhead({ cache, inject, routePath, routeKey, freshMs, queries }: RefreshAheadOptions): void {
  const intervalMs = Math.max(500, Math.floor(freshMs * 0.8));
  // Keyed like an operator's request, by the raw query.
  const pages = queries.map((query) => ({ url: `${routePath}${refreshAheadQuery(query)}`, parameters: hashParameters(query) }));
  const refresh = async ({ url, parameters }: (typeof pages)[number]): Promise<void> => {
    const generation = await cache.generations.current(DASHBOARD_SCOPE);
    const key = cache.key(DASHBOARD_SCOPE, generation, routeKey, parameters);
    // Held for half an interval: one replica refreshes a page per interval,
    // and a late timer does not find its own lock and skip the page.
    if (!(await cache.store.tryLock(`refresh:${key}`, Math.floor(intervalMs / 2)))) return;
    // An upstream failure answers the injected request with a problem: the stale entry stays (stale-if-error).
    await inject({ method: 'GET', url, headers: { 'cache-control': REFRESH_DIRECTIVE }, caller: 'facet-refresh-ahead' });
  };
  // Pages are refreshed side by side: one after another, five 2 s MES queries would outlast the interval.
  cache.every(intervalMs, async () => {
    await Promise.all(pages.map(refresh));
  });
}
