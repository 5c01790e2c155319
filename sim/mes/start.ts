// startMesSim: the MES simulator, in-process.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_ORDER_COUNT, DEFAULT_SEED, DEFAULT_SELLER_COUNT, generateDataset } from '../data/seed.ts';
import type { Dataset } from '../data/seed.ts';
import { createClock } from '../shared/clock.ts';
import type { SimClock } from '../shared/clock.ts';
import type { Faults } from '../shared/faults.ts';
import { DEFAULT_LATENCY, sampleLatency } from '../shared/latency.ts';
import type { LatencyConfig } from '../shared/latency.ts';
import { createSimServer } from '../shared/server.ts';
import type { RequestCounter, SimFaultsApi, SimHandle } from '../shared/server.ts';
import type { Bus } from '../../platform/bus/types.ts';
import { MesBusBridge } from './bus-bridge.ts';
import type { MesEvents } from './events.ts';
import { DEFAULT_CANCEL_WINDOW_SECONDS, DEFAULT_CAPACITY, DEFAULT_STAGE_SECONDS } from './manufacturing.ts';
import type { StageSeconds } from './manufacturing.ts';
import { DEFAULT_MAX_MODEL_BYTES } from './models.ts';
import { registerMesRoutes } from './routes.ts';
import { registerWorkRoutes } from './routes-work.ts';
import { MesStore } from './store.ts';

export interface DashboardLatency {
  baseMs: number;
  perOrderMs: number;
}

/** About 2 s for the first page at 50,000 orders, like the real dashboard. */
export const DEFAULT_DASHBOARD_LATENCY: Readonly<DashboardLatency> = Object.freeze({ baseMs: 300, perOrderMs: 0.034 });

export interface MesSimOptions {
  port?: number;
  adminPort?: number;
  host?: string;
  seed?: number;
  orderCount?: number;
  sellerCount?: number;
  /** Use this dataset instead of generating one (MES copies what it needs). */
  dataset?: Dataset;
  /** Base latency of API requests other than the dashboard; default 20 ms + up to 20 ms. */
  latency?: LatencyConfig;
  /** Dashboard latency = baseMs + perOrderMs × orders held by MES. */
  dashboardLatency?: DashboardLatency;
  faults?: Partial<Faults>;
  logger?: Logger | false;
  /** Simulated seconds per real second (default 1). */
  timeScale?: number;
  /** Where uploads go; default a fresh temp dir, removed on close(). */
  storageDir?: string;
  maxModelBytes?: number;
  /** Share of price jobs that fail (0..1, default 0). */
  priceFailRate?: number;
  /** Jobs in MANUFACTURING_STARTED at once (default 50). */
  capacity?: number;
  /** Simulated seconds per manufacturing stage (default 4 h, 1 h, 1 h). */
  stageSeconds?: Partial<StageSeconds>;
  /** Simulated seconds after the start during which cancelling is allowed (default 600). */
  cancelWindowSeconds?: number;
  /**
   * Publish every MES event on this bus (exchange `events`, routing key
   * `mes.legacy.<EventType>`, the MES's own payload), through an in-memory
   * outbox with retry (bus-bridge.ts). The bus stays the caller's to close.
   */
  bus?: Bus;
}

export interface MesSimHandle extends SimHandle {
  store: MesStore;
  events: MesEvents;
  clock: SimClock;
  faults: SimFaultsApi;
  /** API requests received (upstream calls, from the gateway's side). */
  requests: RequestCounter;
  /** Present when started with `bus`: the outbox publishing MES events. */
  bridge: MesBusBridge | undefined;
}

const DASHBOARD_PATH = '/mes/dashboard/orders';

export async function startMesSim(opts: MesSimOptions = {}): Promise<MesSimHandle> {
  const dataset =
    opts.dataset ??
    generateDataset(
      opts.seed ?? DEFAULT_SEED,
      opts.sellerCount ?? DEFAULT_SELLER_COUNT,
      opts.orderCount ?? DEFAULT_ORDER_COUNT,
    );
  const ownDir = opts.storageDir === undefined;
  const storageDir = opts.storageDir ?? (await mkdtemp(join(tmpdir(), 'facet-mes-')));
  await mkdir(storageDir, { recursive: true });
  const clock = createClock(opts.timeScale ?? 1);
  const maxModelBytes = opts.maxModelBytes ?? DEFAULT_MAX_MODEL_BYTES;
  const store = new MesStore(dataset, clock, {
    storageDir,
    maxModelBytes,
    priceFailRate: opts.priceFailRate ?? 0,
    manufacturing: {
      capacity: opts.capacity ?? DEFAULT_CAPACITY,
      stageSeconds: { ...DEFAULT_STAGE_SECONDS, ...opts.stageSeconds },
      cancelWindowSeconds: opts.cancelWindowSeconds ?? DEFAULT_CANCEL_WINDOW_SECONDS,
    },
  });
  const latency = opts.latency ?? DEFAULT_LATENCY;
  const dashboard = opts.dashboardLatency ?? DEFAULT_DASHBOARD_LATENCY;
  const bridge = opts.bus
    ? new MesBusBridge({ bus: opts.bus, events: store.events, ...(opts.logger ? { logger: opts.logger } : {}) })
    : undefined;
  const cleanup = async (): Promise<void> => {
    clock.close();
    await bridge?.close();
    store.events.removeAllListeners();
    if (ownDir) await rm(storageDir, { recursive: true, force: true });
  };
  try {
    const server = await createSimServer({
      name: 'mes',
      port: opts.port ?? 0,
      adminPort: opts.adminPort ?? 0,
      host: opts.host ?? '127.0.0.1',
      faults: opts.faults,
      logger: opts.logger,
      bodyLimit: 1_048_576,
      baseLatencyMs: (request) =>
        request.url.split('?', 1)[0] === DASHBOARD_PATH
          ? dashboard.baseMs + dashboard.perOrderMs * store.orders.size
          : sampleLatency(latency),
      registerApi: (app) => {
        registerMesRoutes(app, store);
        registerWorkRoutes(app, store, maxModelBytes);
      },
      onClose: cleanup,
    });
    return {
      url: server.url,
      adminUrl: server.adminUrl,
      close: server.close,
      store,
      events: store.events,
      clock,
      faults: server.faults,
      requests: server.requests,
      bridge,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
