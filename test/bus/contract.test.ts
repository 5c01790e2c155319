// One suite, run against every Bus implementation: both must behave the same.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createBus, isBusUnroutable, MemoryBus, waitForConnection, type RabbitBus } from '../../platform/bus/index.ts';
import type { Bus, DeadLetter, Delivery, ExchangeName } from '../../platform/bus/types.ts';
import { AMQP_URL, RabbitSideDoor, sleep, testLogger, uniqueName, uniquePrefix, waitFor } from './helpers.ts';

interface Harness {
  bus: Bus;
  injectRaw(exchange: ExchangeName, routingKey: string, raw: string, props?: { id?: string; type?: string }): Promise<void>;
  deadLetters(queue: string): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

const factories: { name: string; create(): Promise<Harness> }[] = [
  {
    name: 'memory',
    async create() {
      const bus = new MemoryBus();
      return {
        bus,
        injectRaw: (e, k, raw, props) => bus.injectRaw(e, k, raw, props),
        deadLetters: async (queue) => bus.deadLetters().filter((d) => d.queue === queue),
        close: () => bus.close(),
      };
    },
  },
  {
    name: 'rabbitmq',
    async create() {
      const bus = createBus({ url: AMQP_URL, prefix: uniquePrefix(), logger: testLogger }) as RabbitBus;
      await waitForConnection(bus, 5_000);
      const door = await RabbitSideDoor.open(bus.topology);
      return {
        bus,
        injectRaw: (e, k, raw, props) => door.injectRaw(e, k, raw, props),
        deadLetters: (queue) => door.deadLetters(queue),
        close: async () => {
          await bus.close();
          await door.cleanup();
        },
      };
    },
  },
];

const fast = { retryDelaysMs: [50, 100] };
const msg = (id: string, body: unknown = { n: id }) => ({ id, type: 'test.message', body });

for (const factory of factories) {
  describe(`Bus contract: ${factory.name}`, () => {
    let h: Harness;
    before(async () => {
      h = await factory.create();
    });
    after(async () => {
      await h.close();
    });

    it('round-trips a message with its id, type, body, headers and routing key', async () => {
      const got: Delivery[] = [];
      const sub = await h.bus.consume({ queue: uniqueName('rt'), bindings: [{ exchange: 'commands', pattern: 'rt.order.create' }] }, async (d) => {
        got.push(d);
        return 'ack';
      });
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await h.bus.publish('commands', 'rt.order.create', { ...msg('m-1', { order: 42, items: ['ring'] }), headers: { traceparent } }, { headers: { 'x-request-id': 'r-9' } });
      await waitFor(() => got.length === 1);
      assert.deepEqual(got[0], {
        message: { id: 'm-1', type: 'test.message', body: { order: 42, items: ['ring'] }, headers: { traceparent, 'x-request-id': 'r-9' } },
        routingKey: 'rt.order.create',
        attempt: 1,
        redelivered: false,
      });
      await sub.cancel();
    });

    it('routes by topic pattern: * is one word, # is zero or more', async () => {
      const seen: Record<string, string[]> = { star: [], hash: [], exact: [] };
      const subs = await Promise.all([
        h.bus.consume({ queue: uniqueName('star'), bindings: [{ exchange: 'events', pattern: 'tr.order.*' }] }, async (d) => (seen.star?.push(d.routingKey), 'ack')),
        h.bus.consume({ queue: uniqueName('hash'), bindings: [{ exchange: 'events', pattern: 'tr.order.#' }] }, async (d) => (seen.hash?.push(d.routingKey), 'ack')),
        h.bus.consume({ queue: uniqueName('exact'), bindings: [{ exchange: 'events', pattern: 'tr.quote.ready' }] }, async (d) => (seen.exact?.push(d.routingKey), 'ack')),
      ]);
      await h.bus.publish('events', 'tr.order.created', msg('t-1'));
      await h.bus.publish('events', 'tr.order.status.changed', msg('t-2'));
      await h.bus.publish('events', 'tr.order', msg('t-3'));
      await h.bus.publish('events', 'tr.quote.ready', msg('t-4'));
      await waitFor(() => seen.hash?.length === 3 && seen.star?.length === 1 && seen.exact?.length === 1);
      await sleep(100);
      assert.deepEqual(seen.star, ['tr.order.created']);
      assert.deepEqual([...(seen.hash ?? [])].sort(), ['tr.order', 'tr.order.created', 'tr.order.status.changed']);
      assert.deepEqual(seen.exact, ['tr.quote.ready']);
      await Promise.all(subs.map((s) => s.cancel()));
    });

    it('rejects a publish no queue is bound for (mandatory), on either exchange', async () => {
      await assert.rejects(h.bus.publish('commands', 'nobody.listens.here', msg('u-1')), (err) => isBusUnroutable(err));
      await h.bus.consume({ queue: uniqueName('unr'), bindings: [{ exchange: 'events', pattern: 'unr.bound' }] }, async () => 'ack');
      await assert.rejects(h.bus.publish('commands', 'unr.bound', msg('u-2')), (err) => isBusUnroutable(err));
      await h.bus.publish('events', 'unr.bound', msg('u-3'));
    });

    it('retries with attempts 1, 2, 3, the same id and routing key, then acks once', async () => {
      const calls: { id: string; attempt: number; routingKey: string }[] = [];
      await h.bus.consume({ queue: uniqueName('retry'), bindings: [{ exchange: 'commands', pattern: 'rty.do' }], ...fast }, async (d) => {
        calls.push({ id: d.message.id, attempt: d.attempt, routingKey: d.routingKey });
        if (d.attempt === 1) throw new Error('transient');
        if (d.attempt === 2) return 'retry';
        return 'ack';
      });
      await h.bus.publish('commands', 'rty.do', msg('r-1'));
      await waitFor(() => calls.length === 3, 5_000, 'three attempts');
      await sleep(300);
      assert.deepEqual(calls, [
        { id: 'r-1', attempt: 1, routingKey: 'rty.do' },
        { id: 'r-1', attempt: 2, routingKey: 'rty.do' },
        { id: 'r-1', attempt: 3, routingKey: 'rty.do' },
      ]);
    });

    it('parks a message that always fails after maxAttempts, without blocking the queue', async () => {
      const queue = uniqueName('poison');
      const log: string[] = [];
      await h.bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'psn.do' }], prefetch: 1, maxAttempts: 3, ...fast }, async (d) => {
        log.push(`${d.message.id}#${d.attempt}`);
        if (d.message.id === 'bad') throw new Error('boom: cannot process');
        return 'ack';
      });
      await h.bus.publish('commands', 'psn.do', msg('bad'));
      await h.bus.publish('commands', 'psn.do', msg('good'));
      await waitFor(async () => (await h.deadLetters(queue)).length === 1, 5_000, 'dead letter');
      const [dead] = await h.deadLetters(queue);
      assert.equal(dead?.id, 'bad');
      assert.match(dead?.reason ?? '', /boom: cannot process/);
      assert.equal(dead?.attempt, 3);
      assert.equal(dead?.exchange, 'commands');
      assert.equal(dead?.routingKey, 'psn.do');
      assert.deepEqual(JSON.parse(dead?.raw ?? ''), { n: 'bad' });
      assert.deepEqual(log.filter((l) => l.startsWith('bad')), ['bad#1', 'bad#2', 'bad#3']);
      assert.ok(log.indexOf('good#1') < log.indexOf('bad#3'), `good was processed meanwhile: ${log.join(' ')}`);
    });

    it('a deferral ({ deferInMs }) comes back after its delay with the same attempt, never parked, and frees the slot meanwhile', async () => {
      const queue = uniqueName('defer');
      const log: string[] = [];
      let deferrals = 0;
      await h.bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'dfr.do' }], prefetch: 1, maxAttempts: 1, ...fast }, async (d) => {
        log.push(`${d.message.id}#${d.attempt}`);
        if (d.message.id === 'later' && deferrals < 3) {
          deferrals++;
          return { deferInMs: 50 };
        }
        return 'ack';
      });
      await h.bus.publish('commands', 'dfr.do', msg('later'));
      await h.bus.publish('commands', 'dfr.do', msg('now'));
      await waitFor(() => log.filter((l) => l === 'later#1').length === 4, 5_000, 'the deferred message back three times');
      assert.deepEqual(await h.deadLetters(queue), [], 'maxAttempts 1, yet nothing parked');
      assert.ok(log.indexOf('now#1') < log.lastIndexOf('later#1'), `the other message went first: ${log.join(' ')}`);
    });

    it('parks at once on { dead: reason }', async () => {
      const queue = uniqueName('deadnow');
      let calls = 0;
      await h.bus.consume({ queue, bindings: [{ exchange: 'events', pattern: 'dn.x' }], ...fast }, async () => (calls++, { dead: 'schema v0 no longer supported' }));
      await h.bus.publish('events', 'dn.x', msg('d-1'));
      await waitFor(async () => (await h.deadLetters(queue)).length === 1);
      const [dead] = await h.deadLetters(queue);
      assert.equal(dead?.reason, 'schema v0 no longer supported');
      assert.equal(dead?.attempt, 1);
      assert.equal(calls, 1);
    });

    it('shares a queue between competing consumers, each message processed once', async () => {
      const queue = uniqueName('compete');
      const byConsumer: string[][] = [[], []];
      const spec = { queue, bindings: [{ exchange: 'commands' as const, pattern: 'cmp.work' }], prefetch: 1 };
      for (const seen of byConsumer) {
        await h.bus.consume(spec, async (d) => {
          seen.push(d.message.id);
          await sleep(5);
          return 'ack';
        });
      }
      const ids = Array.from({ length: 20 }, (_, i) => `c-${i}`);
      await Promise.all(ids.map((id) => h.bus.publish('commands', 'cmp.work', msg(id))));
      await waitFor(() => byConsumer.flat().length >= 20, 5_000, 'all processed');
      await sleep(100);
      const all = byConsumer.flat();
      assert.equal(all.length, 20);
      assert.deepEqual([...new Set(all)].sort(), [...ids].sort());
      assert.ok(byConsumer.every((s) => s.length >= 3), `each consumer got a share: ${byConsumer.map((s) => s.length).join('/')}`);
    });

    it('parks unparseable JSON and messages without an id, never calling the handler', async () => {
      const queue = uniqueName('garbage');
      let calls = 0;
      await h.bus.consume({ queue, bindings: [{ exchange: 'commands', pattern: 'gbg.in' }] }, async () => (calls++, 'ack'));
      await h.injectRaw('commands', 'gbg.in', '{"half": ', { id: 'g-1', type: 'test.message' });
      await h.injectRaw('commands', 'gbg.in', '{"fine": true}', { type: 'test.message' });
      await waitFor(async () => (await h.deadLetters(queue)).length === 2);
      const dead = await h.deadLetters(queue);
      const bad = dead.find((d) => d.id === 'g-1');
      assert.match(bad?.reason ?? '', /unparseable JSON/);
      assert.equal(bad?.raw, '{"half": ');
      assert.ok(dead.some((d) => d.reason === 'missing message id'));
      assert.equal(calls, 0);
    });

    it('rejects a message that cannot be encoded', async () => {
      await assert.rejects(h.bus.publish('commands', 'rt.order.create', msg('big', { n: 1n })), TypeError);
      await assert.rejects(h.bus.publish('commands', 'rt.order.create', { id: '', type: 't', body: {} }), TypeError);
    });
  });
}
