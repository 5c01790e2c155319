// Shared by the bus tests: unique names, polling, a raw AMQP side door
// (inject foreign payloads, read the parking queue, clean up), a test logger.

import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { toDeadLetter } from '../../platform/bus/dead-letter.ts';
import type { Topology } from '../../platform/bus/topology.ts';
import type { BusLogger, DeadLetter, ExchangeName } from '../../platform/bus/types.ts';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const run = promisify(execFile);

export function uniquePrefix(): string {
  return `facet-test-${randomBytes(4).toString('hex')}`;
}

export function uniqueName(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${label}`);
    await sleep(10);
  }
}

/** Silent unless FACET_TEST_BUS_LOG=1. */
export const testLogger: BusLogger = process.env.FACET_TEST_BUS_LOG === '1'
  ? { info: (o, m) => console.log('info', m, o), warn: (o, m) => console.log('warn', m, o), error: (o, m) => console.log('error', m, o), debug: (o, m) => console.log('debug', m, o) }
  : { info() {}, warn() {}, error() {}, debug() {} };

/** Records warning messages (and forwards everything to testLogger). */
export function captureLogger(): { logger: BusLogger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: BusLogger = { ...testLogger, warn: (o, m) => (warnings.push(m ?? ''), testLogger.warn(o, m)) };
  return { logger, warnings };
}

/** A plain amqplib connection beside the bus, for what the Bus API does not offer. */
export class RabbitSideDoor {
  private readonly dead: DeadLetter[] = [];
  private readonly model: ChannelModel;
  private readonly topology: Topology;

  private constructor(model: ChannelModel, topology: Topology) {
    this.model = model;
    this.topology = topology;
  }

  static async open(topology: Topology): Promise<RabbitSideDoor> {
    return new RabbitSideDoor(await connect(AMQP_URL, { timeout: 10_000 }), topology);
  }

  /** A fresh channel whose errors do not crash the test (channel errors are expected in some tests). */
  async channel(): Promise<Channel> {
    const ch = await this.model.createChannel();
    ch.on('error', () => undefined);
    return ch;
  }

  async injectRaw(exchange: ExchangeName, routingKey: string, raw: string, props: { id?: string; type?: string; headers?: Record<string, string> } = {}): Promise<void> {
    const ch = await this.model.createConfirmChannel();
    ch.publish(this.topology.exchange(exchange), routingKey, Buffer.from(raw), { persistent: true, messageId: props.id, type: props.type, headers: props.headers });
    await ch.waitForConfirms();
    await ch.close();
  }

  /** Drains the parking queue into a local list and returns those parked from `queue`. */
  async deadLetters(queue: string): Promise<DeadLetter[]> {
    const ch = await this.channel();
    for (;;) {
      const msg = await ch.get(this.topology.deadQueue, { noAck: true });
      if (msg === false) break;
      this.dead.push(toDeadLetter(this.topology, msg));
    }
    await ch.close();
    return this.dead.filter((d) => d.queue === queue);
  }

  /** Deletes every queue and exchange the topology declared, then disconnects. */
  async cleanup(extraQueues: string[] = []): Promise<void> {
    const { queues, exchanges } = this.topology.declared();
    const ch = await this.channel();
    for (const q of [...queues, ...extraQueues]) await ch.deleteQueue(q);
    for (const e of exchanges) await ch.deleteExchange(e);
    await ch.close();
    await this.model.close();
  }
}
