// Ready-message counts for facet_bus_queue_messages, read with a passive
// queue.declare (checkQueue) on a channel of its own, at scrape time. One
// sample at a time: a scrape that comes while one is running shares it. A
// queue that does not exist (yet) closes the channel; it is skipped and the
// next queue gets a fresh channel.

import type { Channel, ChannelModel } from 'amqplib';
import type { QueueDepthSource } from './metrics.ts';
import type { Topology } from './topology.ts';

export class QueueDepthSampler implements QueueDepthSource {
  private readonly topology: Topology;
  private readonly connection: () => ChannelModel | undefined;
  private readonly fullNames: () => string[];
  private channel: { model: ChannelModel; channel: Promise<Channel> } | undefined;
  private running: Promise<Map<string, number> | undefined> | undefined;

  constructor(topology: Topology, connection: () => ChannelModel | undefined, fullNames: () => string[]) {
    this.topology = topology;
    this.connection = connection;
    this.fullNames = fullNames;
  }

  queues(): string[] {
    return this.fullNames().map((name) => this.topology.logicalQueue(name));
  }

  sample(): Promise<Map<string, number> | undefined> {
    this.running ??= this.read().finally(() => (this.running = undefined));
    return this.running;
  }

  private async read(): Promise<Map<string, number> | undefined> {
    const model = this.connection();
    if (!model) return undefined;
    const depths = new Map<string, number>();
    for (const name of new Set(this.fullNames())) {
      try {
        const channel = await this.channelOn(model);
        const { messageCount } = await channel.checkQueue(name);
        depths.set(this.topology.logicalQueue(name), messageCount);
      } catch {
        this.channel = undefined; // the channel is gone with the error
      }
    }
    return depths;
  }

  private channelOn(model: ChannelModel): Promise<Channel> {
    if (this.channel?.model !== model) {
      const entry = {
        model,
        channel: model.createChannel().then((ch) => {
          ch.on('error', () => undefined);
          ch.on('close', () => {
            if (this.channel === entry) this.channel = undefined;
          });
          return ch;
        }),
      };
      this.channel = entry;
    }
    return this.channel.channel;
  }
}
