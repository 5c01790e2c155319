// The gateway of a process, reloadable without a restart: one HTTP server
// dispatches each request to the current generation (a Fastify app with the
// routes, policies, upstream pools and consumers of one config). A reload
// (SIGHUP, or a change of the file, watched with its folder so that a
// Kubernetes ConfigMap's `..data` symlink swap is seen) validates the new
// file exactly as start-up does; a bad file is refused with each problem's
// path and the old generation keeps serving. A good one is built beside the
// old, then swapped in for new requests; the old one finishes its in-flight
// requests before it is closed. What outlives a config (Redis clients, the
// bus, the feed, the event consumer, the metrics registry, the policies'
// retained state: quota counters, cache entries) is built once.

import { watch, realpathSync, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { FastifyBaseLogger } from 'fastify';
import { clientErrorHandler } from '../platform/errors/problem.ts';
import { POLICIES } from '../policies/index.ts';
import { tagServer } from '../platform/telemetry/api.ts';
import { buildGeneration, createGatewayBase, startBase, type GatewayBase, type GatewayOptions, type Generation, type RunningBase } from './app.ts';
import { configVersion, loadConfigFile, readConfigText, type LoadedConfig } from './config/load.ts';
import { ConfigError } from './config/validate.ts';
import type { GatewayServices } from './services.ts';

export interface ReloadingGatewayOptions extends GatewayOptions {
  /** The config file, as given (a symlink is followed at each read). */
  file: string;
  /** The environment `${VAR}` references read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Watch the file and its folder for changes (default true). */
  watch?: boolean;
  /** Changes closer together than this make one reload. */
  debounceMs?: number;
  /** Longest an old generation is kept for its in-flight requests (open event streams never finish). */
  retireAfterMs?: number;
  /** Where reloads are reported. */
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

export type ReloadOutcome =
  | { outcome: 'success'; version: string; previous: string }
  | { outcome: 'failure'; problems: string[] }
  | { outcome: 'unchanged'; version: string };

export interface ReloadingGateway {
  /** The one HTTP server; listen() it. */
  readonly server: Server;
  /** The generation new requests go to. */
  current(): Generation;
  /** The config it serves, its version and load time. */
  config(): { loaded: LoadedConfig; loadedAt: string };
  /** Reads and validates the file and, when valid, swaps it in. `force`: even when its text did not change (SIGHUP). */
  reload(reason: string, force?: boolean): Promise<ReloadOutcome>;
  listen(port: number, host: string): Promise<string>;
  /** Drains (503 to new requests, in-flight ones finish), then closes everything. */
  close(): Promise<void>;
}

interface Live {
  generation: Generation;
  loaded: LoadedConfig;
  loadedAt: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  inflight: number;
  onIdle: (() => void) | undefined;
}

/** Settings the first config fixes for the life of the process. */
function restartOnly(before: LoadedConfig['config'], after: LoadedConfig['config']): string[] {
  const changed: string[] = [];
  if (before.http.port !== after.http.port) changed.push('http.port');
  if (before.http.host !== after.http.host) changed.push('http.host');
  if (!isDeepStrictEqual(before.notifications, after.notifications)) changed.push('notifications');
  return changed;
}

export async function startReloadingGateway(options: ReloadingGatewayOptions): Promise<ReloadingGateway> {
  const file = resolve(options.file);
  const env = options.env ?? process.env;
  const { log } = options;
  const retireAfterMs = options.retireAfterMs ?? 120_000;
  const first = loadConfigFile(file, options.policies ?? POLICIES, env);
  const base: GatewayBase = createGatewayBase(first.config, options);
  const policies = base.policyMap;
  const reloads = base.metrics.configReloads;
  reloads.inc({ outcome: 'success' }, 0);
  reloads.inc({ outcome: 'failure' }, 0);

  // As app.ts asks of Fastify's own server: the Host check is the app's (problem+json, gateway/host-required.ts).
  const server = createServer({ requireHostHeader: false });
  // As Fastify sets its own server up: keep-alive longer than a load balancer's idle timeout, no request timeout.
  server.keepAliveTimeout = 72_000;
  server.requestTimeout = 0;
  server.on('clientError', clientErrorHandler);
  tagServer(server, 'gateway');

  const build = async (loaded: LoadedConfig, loadedAt: string): Promise<Live> => {
    let handler: Live['handler'] | undefined;
    const generation = await buildGeneration(loaded, base, {
      // Fastify hands over its request handler; this server calls it (the one given back is never listened on).
      serverFactory: (fastifyHandler) => {
        handler = fastifyHandler;
        return createServer();
      },
      version: { version: loaded.version, loadedAt },
    });
    if (!handler) throw new Error('fastify did not hand over its request handler');
    return { generation, loaded, loadedAt, handler, inflight: 0, onIdle: undefined };
  };

  let current = await build(first, new Date().toISOString());
  const retiring = new Set<Live>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const live = current;
    live.inflight += 1;
    res.once('close', () => {
      live.inflight -= 1;
      if (live.inflight === 0) live.onIdle?.();
    });
    live.handler(req, res);
  });

  /** Closes an old generation once its in-flight requests are done (or after retireAfterMs). */
  const retire = (live: Live): void => {
    retiring.add(live);
    void (async () => {
      if (live.inflight > 0) {
        await new Promise<void>((done) => {
          const timer = setTimeout(done, retireAfterMs);
          timer.unref();
          live.onIdle = () => {
            clearTimeout(timer);
            done();
          };
        });
      }
      await live.generation.close();
      retiring.delete(live);
    })().catch((error: unknown) => log.error({ err: error }, 'closing the previous config failed'));
  };

  // The event consumer and the feed run once; events read the current generation's services.
  const liveServices = new Proxy({} as GatewayServices, { get: (_target, key) => Reflect.get(current.generation.services, key) });
  const running: RunningBase = await startBase(base, liveServices, current.generation.app.log);

  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  /** The version of the text last refused: the watcher reports each change once. */
  let lastRefused: string | undefined;
  const reloadNow = async (reason: string, force: boolean): Promise<ReloadOutcome> => {
    if (closed) return { outcome: 'unchanged', version: current.loaded.version };
    let loaded: LoadedConfig;
    let seen: string | undefined;
    try {
      seen = configVersion(readConfigText(file));
      // The same text as now, or as the last refusal: nothing new to say (SIGHUP forces a rebuild).
      if (!force && (seen === current.loaded.version || seen === lastRefused)) return { outcome: 'unchanged', version: current.loaded.version };
      loaded = loadConfigFile(file, policies, env);
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
      lastRefused = seen;
      reloads.inc({ outcome: 'failure' });
      log.error({ file, reason, problems, serving: current.loaded.version }, `config reload refused: ${problems.join('; ')} (the previous config keeps serving)`);
      return { outcome: 'failure', problems };
    }
    let next: Live;
    try {
      next = await build(loaded, new Date().toISOString());
    } catch (error) {
      reloads.inc({ outcome: 'failure' });
      log.error({ err: error, file, reason, serving: current.loaded.version }, 'config reload failed while building it (the previous config keeps serving)');
      return { outcome: 'failure', problems: [(error as Error).message] };
    }
    const previous = current;
    current = next;
    lastRefused = undefined;
    retire(previous);
    reloads.inc({ outcome: 'success' });
    const needRestart = restartOnly(previous.loaded.config, loaded.config);
    if (needRestart.length > 0) log.warn({ settings: needRestart }, `config reloaded, but ${needRestart.join(', ')} change only with a restart`);
    log.info({ file, reason, version: loaded.version, previous: previous.loaded.version }, 'config reloaded');
    return { outcome: 'success', version: loaded.version, previous: previous.loaded.version };
  };
  // One reload at a time, in the order asked.
  const reload = (reason: string, force = false): Promise<ReloadOutcome> => {
    const result = queue.then(() => reloadNow(reason, force));
    queue = result.catch(() => undefined);
    return result;
  };

  const watchers: FSWatcher[] = [];
  const watched = new Set<string>();
  let debounce: NodeJS.Timeout | undefined;
  const watchFolder = (folder: string): void => {
    if (watched.has(folder)) return;
    try {
      const watcher = watch(folder, { persistent: false }, () => scheduleCheck());
      // A watched folder that goes away (an old ConfigMap revision) is no error of ours.
      watcher.on('error', () => {
        watched.delete(folder);
        watcher.close();
      });
      watchers.push(watcher);
      watched.add(folder);
    } catch (error) {
      log.warn({ folder, err: { message: (error as Error).message } }, 'cannot watch the config folder: reload with SIGHUP');
    }
  };
  /** The file's folder (a ConfigMap swaps its `..data` symlink there) and, through symlinks, the real file's. */
  const watchFile = (): void => {
    watchFolder(dirname(file));
    try {
      watchFolder(dirname(realpathSync(file)));
    } catch {
      // Not there right now (mid-swap): the folder watch sees it come back.
    }
  };
  function scheduleCheck(): void {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      watchFile();
      void reload('file changed');
    }, options.debounceMs ?? 250);
    debounce.unref();
  }
  if (options.watch ?? true) watchFile();

  let closing: Promise<void> | undefined;
  return {
    server,
    current: () => current.generation,
    config: () => ({ loaded: current.loaded, loadedAt: current.loadedAt }),
    reload,
    listen(port, host) {
      return new Promise((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          resolveListen(typeof address === 'object' && address ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address));
        });
      });
    },
    close() {
      closing ??= (async () => {
        closed = true;
        clearTimeout(debounce);
        for (const watcher of watchers) watcher.close();
        await queue;
        base.lifecycle.draining = true;
        // Open event streams would hold the server forever: end them first (browsers reconnect elsewhere).
        base.shared.feed.endStreams();
        server.closeIdleConnections();
        // Answers now carry Connection: close; the server closes once in-flight requests are done.
        await new Promise<void>((done) => server.close(() => done()));
        await Promise.all([current, ...retiring].map((live) => live.generation.close()));
        await running.close();
      })();
      return closing;
    },
  };
}
