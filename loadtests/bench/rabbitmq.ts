// The local RabbitMQ for the scenarios that run on the bus (order-writes, the
// notification scenarios): shared with other work, so every run keeps to a
// topology prefix of its own (AMQP_PREFIX of every child) and deletes its
// queues and exchanges at the end.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { createBus, DEFAULT_RETRY_DELAYS_MS, waitForConnection } from '../../platform/bus/index.ts';
import type { Bus } from '../../platform/bus/index.ts';
import { MES_EVENTS_QUEUE } from '../../adapters/mes/consumer.ts';
import { MES_TAKE_QUEUE } from '../../adapters/mes/take.ts';
import { SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, SAGA_RETRY_DELAYS_MS } from '../../adapters/saga/consumer.ts';
import { jitteredLevels } from '../../adapters/webhooks/backoff.ts';
import { DEFAULT_WEBHOOK_RETRY_DELAYS_MS, WEBHOOK_DELIVERIES_QUEUE } from '../../adapters/webhooks/deliver.ts';
import { WEBHOOK_EVENTS_QUEUE } from '../../adapters/webhooks/fanout.ts';
import type { CpuProbe } from './measure.ts';
import type { ProcessGroup } from './processes.ts';

const run = promisify(execFile);

/** The local broker (BENCH_AMQP_URL overrides); shared: a run keeps to its own prefix. */
export const BENCH_AMQP_URL = process.env.BENCH_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

/** The broker URL without its credentials, for the report. */
export const BENCH_AMQP_URL_SHOWN = BENCH_AMQP_URL.replace(/\/\/[^@]*@/, '//');

/** A topology prefix of the run's own: `facet-bench-<random>`. */
export function runPrefix(): string {
  return `facet-bench-${randomBytes(4).toString('hex')}`;
}

/** The RabbitMQ server's pid (beam.smp), for its CPU per request; undefined when not visible here. */
function brokerPid(): number | undefined {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'beam.smp') return Number(entry);
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** A CPU probe for the broker (the whole server: other users count too), when its process is visible here. */
export function brokerCpuProbe(label = 'RabbitMQ'): CpuProbe[] {
  const pid = brokerPid();
  return pid === undefined ? [] : [{ label, pid }];
}

/**
 * Every queue and exchange the stack's processes may declare under `prefix`
 * (the gateway's events queue, the adapters' consumers with their delay
 * levels, the dead-letter pair, and `extraQueues` of the harness's own): the
 * names deleted when rabbitmqctl cannot list them.
 */
function stackTopology(prefix: string, extraQueues: readonly string[]): { queues: string[]; exchanges: string[] } {
  const levels = [...new Set([...DEFAULT_RETRY_DELAYS_MS, ...SAGA_RETRY_DELAYS_MS, ...jitteredLevels(DEFAULT_WEBHOOK_RETRY_DELAYS_MS)])].map((ms) => `retry.${ms}ms`);
  const consumers = ['gateway.events', SAGA_COMMANDS_QUEUE, SAGA_EVENTS_QUEUE, MES_EVENTS_QUEUE, MES_TAKE_QUEUE, WEBHOOK_EVENTS_QUEUE, WEBHOOK_DELIVERIES_QUEUE, ...extraQueues];
  return {
    queues: [...consumers, 'dead', ...levels].map((q) => `${prefix}.${q}`),
    exchanges: ['commands', 'events', 'dlx', ...levels].map((e) => `${prefix}.${e}`),
  };
}

/** The run's queues and exchanges: listed by rabbitmqctl when it can (everything with the prefix), else the names the stack declares. */
async function deleteTopology(prefix: string, extraQueues: readonly string[], log: (line: string) => void): Promise<void> {
  const list = async (what: 'list_queues' | 'list_exchanges'): Promise<string[] | undefined> => {
    try {
      const { stdout } = await run('rabbitmqctl', ['-q', '--no-table-headers', what, 'name'], { timeout: 30_000 });
      return stdout.split('\n').map((l) => l.trim()).filter((name) => name.startsWith(`${prefix}.`));
    } catch {
      return undefined;
    }
  };
  const fallback = stackTopology(prefix, extraQueues);
  const queues = (await list('list_queues')) ?? fallback.queues;
  const exchanges = (await list('list_exchanges')) ?? fallback.exchanges;
  const connection = await connect(BENCH_AMQP_URL);
  try {
    const ch = await connection.createChannel();
    ch.on('error', () => undefined);
    for (const q of queues) await ch.deleteQueue(q);
    for (const e of exchanges) await ch.deleteExchange(e);
    await ch.close();
  } finally {
    await connection.close();
  }
  log(`deleted ${queues.length} queues and ${exchanges.length} exchanges of prefix ${prefix}`);
}

/**
 * Deletes the run's queues and exchanges when the group stops (after its
 * children, so nothing declares them again). `extraQueues`: queues of the
 * harness's own under the prefix (names without it), for when rabbitmqctl
 * cannot list them.
 */
export function deleteTopologyOnStop(group: ProcessGroup, prefix: string, log: (line: string) => void, extraQueues: readonly string[] = []): void {
  group.onStop(() => deleteTopology(prefix, extraQueues, log).catch((error: unknown) => log(`could not delete the queues of prefix ${prefix}: ${String(error)}`)));
}

/** The harness's own connection to the bus under `prefix` (the project's bus: the children's message format), closed when the group stops. */
export async function benchBus(group: ProcessGroup, prefix: string): Promise<Bus> {
  const bus = createBus({ url: BENCH_AMQP_URL, prefix });
  group.onStop(() => bus.close().catch(() => undefined));
  try {
    await waitForConnection(bus, 10_000);
  } catch (error) {
    throw new Error(`this scenario needs RabbitMQ at ${BENCH_AMQP_URL_SHOWN} (BENCH_AMQP_URL): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return bus;
}
