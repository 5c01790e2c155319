// Facet as it runs in production, on one machine: gateway processes and
// adapter processes (`node entries/gateway.ts`, `node adapters/main.ts`) on the
// shared Redis and RabbitMQ (a unique topology prefix, removed on close),
// the MES and CRM simulators in this process, the MES publishing its events
// on the bus. For the scaling and chaos tests.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { createBus, waitForConnection, type Bus, type RabbitBus } from '../../platform/bus/index.ts';
import { MES_EVENTS_QUEUE, SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE } from '../../adapters/index.ts';
import { demoOperatorToken } from '../../entries/demo.ts';
import type { Dataset } from '../../sim/data/seed.ts';
import { startCrmSim, startMesSim, type CrmSimHandle, type MesSimHandle, type MesSimOptions } from '../../sim/index.ts';
import { FAST_LATENCY, FAST_MES } from '../adapters/helpers.ts';
import { AMQP_URL, RabbitSideDoor, testLogger, uniquePrefix } from '../bus/helpers.ts';
import { freePort, startProcess, type RunningProcess } from './processes.ts';
import { REDIS_URL } from './redis.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const JWT_SECRET = 'cluster-test-secret-'.padEnd(40, 'x');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface ClusterOptions {
  dataset: Dataset;
  gateways: number;
  adapters: number;
  /** Edit the parsed gateway.config.yml (contracts are made absolute first). */
  mutateConfig?: (doc: Doc) => void;
  /** Redis as Facet's processes reach it (a cuttable proxy, say); default REDIS_URL. */
  redisUrl?: string;
  /** Redis env of Facet's processes in any topology (e.g. REDIS_CLUSTER_NODES); replaces redisUrl. */
  redisEnv?: Record<string, string>;
  /**
   * RabbitMQ URL(s) of the processes (comma-separated: a broker cluster);
   * default AMQP_URL. A broker of the test's own is torn down with it, so
   * close() then only closes the bus instead of deleting the topology.
   */
  amqpUrl?: string;
  /** URL(s) of this process's bus (the MES simulator publishes on it); default amqpUrl. */
  simAmqpUrl?: string;
  /** Extra env of the adapter and gateway processes (e.g. AMQP_QUORUM_GROUP_SIZE). */
  env?: Record<string, string>;
  /** Saga retry delays of the adapters. */
  retryDelaysMs?: number[];
  sagaMaxAttempts?: number;
  mes?: Partial<MesSimOptions>;
}

export interface Cluster {
  prefix: string;
  bus: Bus;
  mes: MesSimHandle;
  crm: CrmSimHandle;
  gatewayUrls: string[];
  gateways: (RunningProcess | undefined)[];
  adapters: (RunningProcess | undefined)[];
  operatorToken: string;
  /** (Re)starts adapter process `i`. */
  startAdapter(i: number): Promise<RunningProcess>;
  /** The /metrics text of adapter process `i`. */
  adapterMetrics(i: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * Closes the bus and deletes what the gateway, the adapters and the saga
 * declared under `prefix` (their queues, the delay levels in use), then the
 * bus's own topology.
 */
export async function closeBusAndTopology(bus: Bus, prefix: string, retryDelaysMs: readonly number[]): Promise<void> {
  const door = await RabbitSideDoor.open((bus as RabbitBus).topology);
  await bus.close();
  const ch = await door.channel();
  for (const q of [SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, MES_EVENTS_QUEUE, 'gateway.events']) await ch.deleteQueue(`${prefix}.${q}`);
  for (const ms of new Set(retryDelaysMs)) {
    await ch.deleteQueue(`${prefix}.retry.${ms}ms`);
    await ch.deleteExchange(`${prefix}.retry.${ms}ms`);
  }
  await ch.close();
  await door.cleanup();
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const prefix = uniquePrefix();
  const retryDelaysMs = options.retryDelaysMs ?? [200, 500, 1000];
  const amqpUrl = options.amqpUrl ?? AMQP_URL;
  const bus = createBus({ url: options.simAmqpUrl ?? amqpUrl, prefix, logger: testLogger, reconnectMaxDelayMs: 1_000 });
  await waitForConnection(bus, 10_000);
  const mes = await startMesSim({ dataset: options.dataset, ...FAST_MES, ...options.mes, bus });
  const crm = await startCrmSim({ dataset: options.dataset, latency: FAST_LATENCY });

  const doc = parse(readFileSync(join(ROOT, 'gateway.config.yml'), 'utf8')) as Doc;
  for (const [name, file] of Object.entries(doc.contracts as Record<string, string>)) doc.contracts[name] = join(ROOT, file);
  options.mutateConfig?.(doc);
  const configFile = join(mkdtempSync(join(tmpdir(), 'facet-cluster-')), 'gateway.config.yml');
  writeFileSync(configFile, stringify(doc));

  const redisUrl = options.redisUrl ?? REDIS_URL;
  // REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS are all set, so nothing the runner's env holds leaks in.
  const redisEnv = options.redisEnv ? { REDIS_URL: '', REDIS_CLUSTER_NODES: '', REDIS_SENTINELS: '', ...options.redisEnv } : { REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: '', REDIS_SENTINELS: '' };
  const common = { AMQP_URL: amqpUrl, AMQP_PREFIX: prefix, ...redisEnv, CRM_URL: crm.url, MES_URL: mes.url, ...options.env };
  const adapterEnv = {
    ...common,
    ADAPTERS_HTTP_PORT: '0',
    ADAPTERS_HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SAGA_RETRY_DELAYS_MS: retryDelaysMs.join(','),
    SAGA_LOCK_TTL_SEC: '2',
    ...(options.sagaMaxAttempts ? { SAGA_MAX_ATTEMPTS: String(options.sagaMaxAttempts) } : {}),
  };
  const adapters: (RunningProcess | undefined)[] = [];
  const startAdapter = async (i: number): Promise<RunningProcess> => {
    const process = await startProcess(join(ROOT, 'adapters/main.ts'), adapterEnv, /adapters started/, 30_000);
    adapters[i] = process;
    return process;
  };
  const gateways: (RunningProcess | undefined)[] = [];
  const gatewayUrls: string[] = [];
  const cluster: Cluster = {
    prefix,
    bus,
    mes,
    crm,
    gatewayUrls,
    gateways,
    adapters,
    operatorToken: await demoOperatorToken(JWT_SECRET),
    startAdapter,
    async adapterMetrics(i) {
      const url = /"url":"([^"]+)"[^\n]*ops server listening/.exec(adapters[i]?.stdout() ?? '')?.[1];
      if (!url) throw new Error(`adapter ${i}: no ops server url in its log`);
      return (await fetch(`${url}/metrics`)).text();
    },
    async close() {
      await Promise.all([...gateways, ...adapters].map((p) => p?.stop('SIGKILL')));
      await mes.close();
      await crm.close();
      if (options.amqpUrl) await bus.close();
      else await closeBusAndTopology(bus, prefix, retryDelaysMs);
    },
  };
  try {
    for (let i = 0; i < options.adapters; i++) await startAdapter(i);
    for (let i = 0; i < options.gateways; i++) {
      const port = await freePort();
      gatewayUrls.push(`http://127.0.0.1:${port}`);
      gateways.push(
        await startProcess(
          join(ROOT, 'entries/gateway.ts'),
          { ...common, PORT: String(port), HOST: '127.0.0.1', GATEWAY_CONFIG: configFile, JWT_SECRET, LOG_LEVEL: 'warn', FACET_ADAPTERS: 'external' },
          /Facet gateway listening/,
          30_000,
        ),
      );
    }
  } catch (error) {
    await cluster.close().catch(() => {});
    throw error;
  }
  return cluster;
}
