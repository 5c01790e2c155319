// cache: cache-aside for JSON reads, scoped per seller (or to the operators'
// dashboard), with a fresh TTL, stale-while-revalidate, stale-if-error,
// ETag/304, per-key coalescing and refresh-ahead of chosen queries.
//
// The lookup starts in onRequest so that, with ioredis auto-pipelining, the
// cache GET and the quota counters that follow share one Redis round trip.
// Order changes the gateway sees (its own writes, the saga's events) bump the
// scopes' generations (scopes.ts). Refresh-ahead sends its requests through
// the gateway's own route (inject), so they are authenticated, shed,
// validated and handled like an operator's, then stored (refresh.ts).

import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteHandlerMethod } from 'fastify';
import { isUpstreamFailure } from '../../platform/errors/facet-error.ts';
import { internalCaller } from '../../platform/pipeline/internal-caller.ts';
import type { PolicyDefinition } from '../../platform/pipeline/policy.ts';
import { addVary } from '../../platform/pipeline/vary.ts';
import { addUpstreamWait, secondsSince } from '../../platform/metrics/upstream-wait.ts';
import { kConsumer, kOperator } from '../../platform/pipeline/request-state.ts';
import { CacheService, createCacheState, etagOf, hashParameters, type CacheOutcome } from './cache-service.ts';
import { MemoryCacheStore } from './memory-store.ts';
import { RedisCacheStore } from './redis-store.ts';
import { REFRESH_DIRECTIVE, scheduleRefreshAhead } from './refresh.ts';
import { DASHBOARD_SCOPE, sellerScope } from './scopes.ts';
import type { HotEntry } from './hot-entries.ts';
import type { CacheEntry } from './store.ts';

export interface CacheAction {
  /** `seller`: one cache per seller; `dashboard`: the operators' shared view. */
  scope: 'seller' | 'dashboard';
  freshSec: number;
  staleWhileRevalidateSec: number;
  staleIfErrorSec: number;
  /** Queries kept warm (refreshed before they expire), e.g. the dashboard's first pages. */
  refreshAhead?: { query: Record<string, unknown> }[];
  /**
   * After a generation bump, serve the previous generation's page as stale
   * while the new one is fetched, instead of making the caller wait. For the
   * dashboard only: order events bump it constantly, and operators see new
   * orders on the live stream; sellers need read-your-writes (they get an
   * older page only when the upstream fails: stale-if-error).
   */
  staleAcrossGenerations?: boolean;
}

interface Lookup {
  key: string;
  /** The same page without a generation: its latest entry, whatever generation stored it. */
  latestKey: string;
  entry: Promise<CacheEntry | undefined>;
  /** A fresh page of this replica's in-process layer: the hit needs no Redis call. */
  hot?: HotEntry;
}

const kLookup = Symbol('facet.cache.lookup');
/** URLs per cached route whose parameters' hash is remembered, and the longest such URL. */
const PARAMETER_MEMO_ENTRIES = 4096;
const PARAMETER_MEMO_MAX_URL = 512;
declare module 'fastify' {
  interface FastifyRequest {
    [kLookup]?: Lookup;
  }
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

export const cachePolicy: PolicyDefinition<CacheAction, undefined, CacheService> = {
  name: 'cache',
  terminal: false,
  createService(host) {
    // The hot layer: a replica serves a page it read at most 1 s ago without Redis (and never past its fresh TTL).
    const options = { generationMaxAgeMs: 2000, lockTtlMs: 5000, hot: { maxEntries: 2000, maxAgeMs: 1000 } };
    // Entries, generations and counters outlive a config reload; refresh-ahead jobs are the config's.
    const state = host.retain('cache.state', () => {
      const kept = createCacheState(host.redis ? new RedisCacheStore(host.redis) : new MemoryCacheStore(), options, host.metrics.registry);
      // A seller reads its own writes; the dashboard follows every status change.
      host.orderChanges.onChange(async ({ sellerId, kind }) => {
        await Promise.all([kept.generations.bump(sellerScope(sellerId)), kind === 'status_changed' ? kept.generations.bump(DASHBOARD_SCOPE) : undefined]);
      });
      return { value: kept, close: () => kept.store.close() };
    });
    return new CacheService(state, options);
  },
  actionSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['scope'],
    properties: {
      scope: { enum: ['seller', 'dashboard'] },
      freshSec: { type: 'integer', minimum: 1, default: 5 },
      staleWhileRevalidateSec: { type: 'integer', minimum: 0, default: 30 },
      staleIfErrorSec: { type: 'integer', minimum: 0, default: 600 },
      refreshAhead: {
        type: 'array',
        items: { type: 'object', additionalProperties: false, required: ['query'], properties: { query: { type: 'object' } } },
      },
      staleAcrossGenerations: { type: 'boolean', default: false },
    },
  },
  check(action, { routes }) {
    const problems: string[] = [];
    if (routes.some((r) => r.method !== 'GET')) problems.push('scope: only GET routes can be cached');
    if (action.refreshAhead && action.scope !== 'dashboard') problems.push('refreshAhead: is only for the dashboard scope (seller caches are filled by sellers)');
    if (action.staleAcrossGenerations && action.scope !== 'dashboard') problems.push('staleAcrossGenerations: is only for the dashboard scope (a seller must see its own writes)');
    return problems;
  },
  build(steps, route, { service: cache, inject }) {
    const action = steps[0]?.action;
    if (!action) return {};
    const routeId = `${route.method} ${route.path}`;
    const freshMs = action.freshSec * 1000;
    const swrMs = action.staleWhileRevalidateSec * 1000;
    const sieMs = action.staleIfErrorSec * 1000;
    const ttlMs = freshMs + Math.max(swrMs, sieMs);
    const routeKey = hashParameters({ route: routeId });

    const scopeOf = (request: FastifyRequest): string | undefined => {
      if (action.scope === 'dashboard') return request[kOperator] ? DASHBOARD_SCOPE : undefined;
      const consumer = request[kConsumer];
      return consumer ? sellerScope(consumer.id) : undefined;
    };
    /** The gateway's own refresh-ahead request: fetch and store, whatever the cache holds. */
    const isRefresh = (request: FastifyRequest): boolean => request.headers['cache-control'] === REFRESH_DIRECTIVE && internalCaller() !== undefined;

    // The parameters' hash is a function of the URL on this route: a hot page's readers send the same
    // URL over and over, so it is kept per URL (bounded; a URL past the bound is hashed each time).
    const parametersByUrl = new Map<string, string>();
    const parametersOf = (request: FastifyRequest): string => {
      const known = parametersByUrl.get(request.url);
      if (known !== undefined) return known;
      const parameters = hashParameters({ ...(request.query as Record<string, unknown>), ...(request.params as Record<string, unknown>) });
      if (request.url.length <= PARAMETER_MEMO_MAX_URL) {
        if (parametersByUrl.size >= PARAMETER_MEMO_ENTRIES) parametersByUrl.clear();
        parametersByUrl.set(request.url, parameters);
      }
      return parameters;
    };

    const startLookup = (request: FastifyRequest): Lookup | undefined => {
      const scope = scopeOf(request);
      if (!scope || !cache.store.available) return undefined;
      const parameters = parametersOf(request);
      const latestKey = cache.latestKey(scope, routeKey, parameters);
      const generation = cache.generations.peek(scope);
      if (generation !== undefined) {
        const key = cache.key(scope, generation, routeKey, parameters);
        const hot = cache.hot?.fresh(key, freshMs);
        return hot ? { key, latestKey, entry: Promise.resolve(hot.entry), hot } : { key, latestKey, entry: cache.store.get(key) };
      }
      // Generation unknown here yet: one extra read, then the entry.
      const keyPromise = cache.generations.current(scope).then((g) => cache.key(scope, g, routeKey, parameters));
      const lookup: Lookup = { key: '', latestKey, entry: keyPromise.then((key) => ((lookup.key = key), cache.hot?.fresh(key, freshMs)?.entry ?? cache.store.get(key))) };
      return lookup;
    };

    const onRequest: onRequestHookHandler = (request, _reply, done) => {
      const lookup = startLookup(request);
      if (lookup) request[kLookup] = lookup;
      done();
    };

    const vary = action.scope === 'dashboard' ? 'Authorization' : 'X-API-Key';
    /** `bytes`: the body already encoded (a hot hit); otherwise the stored string is sent. */
    const send = (request: FastifyRequest, reply: FastifyReply, entry: CacheEntry, outcome: CacheOutcome, bytes?: Buffer) => {
      cache.outcomes.inc({ route: routeId, outcome });
      const ageMs = Math.max(0, Date.now() - entry.storedAt);
      const ttlSec = Math.floor((freshMs - ageMs) / 1000);
      const status =
        outcome === 'miss' || outcome === 'collapsed'
          ? `facet; fwd=miss; stored${outcome === 'collapsed' ? '; collapsed' : ''}`
          : `facet; hit; ttl=${ttlSec}${outcome === 'hit' ? '' : `; detail=${outcome === 'stale' ? 'stale-while-revalidate' : 'stale-if-error'}`}`;
      reply.header('etag', entry.etag);
      reply.header('cache-control', `private, max-age=${Math.max(0, ttlSec)}`);
      // A private cache keyed by URL alone would show one caller's page to the next key or token.
      addVary(reply, vary);
      reply.header('age', String(Math.floor(ageMs / 1000)));
      reply.header('cache-status', status);
      if (etagMatches(request.headers['if-none-match'], entry.etag)) return reply.code(304).send();
      return reply.header('content-type', 'application/json; charset=utf-8').send(bytes ?? entry.body);
    };

    /** Sends `fallback` marked stale-if-error when the error is the upstream's and the page is young enough. */
    const serveStaleIfError = async (request: FastifyRequest, reply: FastifyReply, error: unknown, fallback: CacheEntry | undefined) => {
      if (!isUpstreamFailure(error) || !fallback || Date.now() - fallback.storedAt >= freshMs + sieMs) return undefined;
      // Logged as the error handler would have (an answer outside the contract carries its validation errors).
      request.log.warn({ code: error.code, err: error.cause ?? error }, 'upstream problem; stale entry served');
      return send(request, reply, fallback, 'stale_if_error');
    };

    const wrapHandler = (inner: RouteHandlerMethod): RouteHandlerMethod => {
      const fetchEntry = async (self: unknown, request: FastifyRequest, reply: FastifyReply, key: string, latestKey: string): Promise<CacheEntry> => {
        cache.upstreamFetches.inc({ route: routeId });
        const body = JSON.stringify(await inner.call(self as never, request, reply));
        const entry = { body, etag: etagOf(body), storedAt: Date.now() };
        cache.lastGood.set(latestKey, entry);
        // This replica's next reads of the page need no Redis call.
        cache.hot?.remember(key, entry);
        // The generation-less copy: what stale-if-error falls back on after a bump (every
        // scope), and what the dashboard's next generation starts from.
        void cache.store.set(latestKey, entry, ttlMs);
        return entry;
      };

      if (action.refreshAhead && action.refreshAhead.length > 0) {
        scheduleRefreshAhead({ cache, inject, routePath: route.path, routeKey, freshMs, queries: action.refreshAhead.map((page) => page.query) });
      }

      return async function cachedHandler(request, reply) {
        const lookup = request[kLookup] ?? startLookup(request);
        if (!lookup) {
          cache.outcomes.inc({ route: routeId, outcome: 'bypass' });
          const scope = scopeOf(request);
          if (!scope) return inner.call(this, request, reply);
          // The shared store is away: answer from the upstream, and keep this replica's
          // last good page in case the upstream fails too.
          const latestKey = cache.latestKey(scope, routeKey, parametersOf(request));
          try {
            const value: unknown = await inner.call(this, request, reply);
            const body = JSON.stringify(value);
            cache.lastGood.set(latestKey, { body, etag: etagOf(body), storedAt: Date.now() });
            return value;
          } catch (error) {
            const served = await serveStaleIfError(request, reply, error, await cache.fallback(latestKey, undefined));
            if (served) return served;
            throw error;
          }
        }
        if (isRefresh(request)) {
          await lookup.entry; // resolves the key when the generation was not known yet
          const entry = await fetchEntry(this, request, reply, lookup.key, lookup.latestKey);
          await cache.store.set(lookup.key, entry, ttlMs);
          cache.outcomes.inc({ route: routeId, outcome: 'refreshed' });
          return reply.header('content-type', 'application/json; charset=utf-8').send(entry.body);
        }
        if (lookup.hot) return send(request, reply, lookup.hot.entry, 'hit', lookup.hot.bytes);
        let cached = await lookup.entry;
        const key = lookup.key;
        // A page of an earlier generation is outdated however young it is: stale at best.
        let outdated = false;
        if (!cached && action.staleAcrossGenerations) {
          cached = await cache.store.get(lookup.latestKey);
          outdated = cached !== undefined;
        }
        const ageMs = cached ? Date.now() - cached.storedAt : Infinity;
        if (cached && !outdated && ageMs < freshMs) {
          const hot = cache.hot?.remember(key, cached);
          return send(request, reply, cached, 'hit', hot?.bytes);
        }
        if (cached && ageMs < freshMs + swrMs) {
          // Serve stale now, refresh behind the answer (one fetch per key).
          void cache.fetchOnce(key, ttlMs, () => fetchEntry(this, request, reply, key, lookup.latestKey), cached.storedAt).catch((error: unknown) => {
            request.log.warn({ err: error, route: routeId }, 'background refresh failed; stale entry kept');
          });
          return send(request, reply, cached, 'stale');
        }
        try {
          const waitStarted = performance.now();
          const { entry, collapsed } = await cache.fetchOnce(key, ttlMs, () => fetchEntry(this, request, reply, key, lookup.latestKey), cached?.storedAt ?? 0);
          // A collapsed read waited on another request's upstream call: that wait is not gateway overhead.
          if (collapsed) addUpstreamWait(request, secondsSince(waitStarted));
          return send(request, reply, entry, collapsed ? 'collapsed' : 'miss');
        } catch (error) {
          // An error is worse than an older page, marked stale with its age: even one
          // from before a generation bump (a seller's busy orders bump it constantly).
          const served = isUpstreamFailure(error) ? await serveStaleIfError(request, reply, error, await cache.fallback(lookup.latestKey, cached)) : undefined;
          if (served) return served;
          throw error;
        }
      };
    };

    return { onRequest: [onRequest], wrapHandler };
  },
};
