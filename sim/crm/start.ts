// startCrmSim: the CRM simulator, in-process.
import type { Logger } from 'pino';
import { DEFAULT_ORDER_COUNT, DEFAULT_SEED, DEFAULT_SELLER_COUNT, generateDataset } from '../data/seed.ts';
import type { Dataset } from '../data/seed.ts';
import type { Faults } from '../shared/faults.ts';
import { DEFAULT_LATENCY, sampleLatency } from '../shared/latency.ts';
import type { LatencyConfig } from '../shared/latency.ts';
import { createSimServer } from '../shared/server.ts';
import type { RequestCounter, SimFaultsApi, SimHandle } from '../shared/server.ts';
import { registerCrmRoutes } from './routes.ts';
import { CrmStore } from './store.ts';

export interface CrmSimOptions {
  /** API port; 0 (default in-process) picks a free one. */
  port?: number;
  adminPort?: number;
  /** Default 127.0.0.1. */
  host?: string;
  seed?: number;
  orderCount?: number;
  sellerCount?: number;
  /** Use this dataset instead of generating one (the CRM then mutates its orders). */
  dataset?: Dataset;
  /** Base latency of every API request; default base 20 ms, jitter 20 ms. */
  latency?: LatencyConfig;
  faults?: Partial<Faults>;
  logger?: Logger | false;
  /** Requests worked on at once, the rest queue (default 0: unbounded); see SimServerOptions.workers. */
  workers?: number;
}

export interface CrmSimHandle extends SimHandle {
  store: CrmStore;
  faults: SimFaultsApi;
  /** API requests received (upstream calls, from the gateway's side). */
  requests: RequestCounter;
}

export async function startCrmSim(opts: CrmSimOptions = {}): Promise<CrmSimHandle> {
  const dataset =
    opts.dataset ??
    generateDataset(
      opts.seed ?? DEFAULT_SEED,
      opts.sellerCount ?? DEFAULT_SELLER_COUNT,
      opts.orderCount ?? DEFAULT_ORDER_COUNT,
    );
  const store = new CrmStore(dataset);
  const latency = opts.latency ?? DEFAULT_LATENCY;
  const server = await createSimServer({
    name: 'crm',
    port: opts.port ?? 0,
    adminPort: opts.adminPort ?? 0,
    host: opts.host ?? '127.0.0.1',
    faults: opts.faults,
    logger: opts.logger,
    baseLatencyMs: () => sampleLatency(latency),
    workers: opts.workers ?? 0,
    registerApi: (app) => registerCrmRoutes(app, store),
  });
  return { url: server.url, adminUrl: server.adminUrl, close: server.close, store, faults: server.faults, requests: server.requests };
}
