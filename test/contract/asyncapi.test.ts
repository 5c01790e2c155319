// Keeps the AsyncAPI contract of the message bus honest: the document is
// AsyncAPI 3.0.0 that @asyncapi/parser accepts without errors or warnings;
// every message's payload and headers schema compiles under a strict ajv and
// every example validates; every routing key of contracts/messages.ts
// is a channel (and every command/event channel is a known routing key); the
// exchanges and queue arguments are the ones platform/bus/topology.ts
// declares; the queues and bindings are the ones the gateway, the saga and
// the MES adapter consume from; and the MES adapter's translation of each
// MES example is the documented canonical message.
//
//   npx node --import tsx --test test/contract/asyncapi.test.ts

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { parseDocument } from 'yaml';
import type { Bus, ConsumerSpec, Subscription } from '../../platform/bus/types.ts';
import { rebaseRefs } from '../helpers/openapi-schemas.ts';
import { Topology } from '../../platform/bus/topology.ts';
import { ROUTING } from '../../contracts/messages.ts';
import type { MesClient } from '../../adapters/mes/client.ts';
import { startMesTranslator } from '../../adapters/mes/consumer.ts';
import { startTakeConsumer } from '../../adapters/mes/take.ts';
import { MemoryWebhookStore } from '../../platform/webhooks/store.ts';
import { startWebhooks } from '../../adapters/webhooks/start.ts';
import { parseLegacyEvent } from '../../adapters/mes/legacy.ts';
import { translateLegacyEvent } from '../../adapters/mes/translate.ts';
import { startSagaConsumers } from '../../adapters/saga/consumer.ts';
import type { OrderLocks } from '../../adapters/saga/lock.ts';
import type { SagaDeps } from '../../adapters/saga/run.ts';
import { silentLogger } from '../../adapters/shared/logger.ts';
import { consumeEvents } from '../../gateway/events.ts';
import type { GatewayServices } from '../../gateway/services.ts';
import { legacyMessageId, legacyRoutingKey } from '../../sim/mes/bus-bridge.ts';
import type { MesEvent } from '../../sim/mes/events.ts';

type Json = Record<string, unknown>;

const FILE = 'openapi/asyncapi.yaml';
/** Schemas the bus shares with the Seller API: the same JSON Schema, annotations aside. */
const SHARED_WITH_SELLER_API = ['OrderStatus', 'Material', 'Finish', 'ModelFormat', 'OrderParameters', 'Price', 'Customer', 'ShippingAddress', 'OrderModel'];
const SPEC_TEXT = readFileSync(new URL(`../../${FILE}`, import.meta.url), 'utf8');
/** Routing keys on the bus that are not (yet) in ROUTING: the MES adapter's internal event to the saga. */
const PROPOSED_ROUTING_KEYS = new Set(['mes.manufacturing_changed']);
const topology = new Topology();

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function loadSpec(): Json {
  const document = parseDocument(SPEC_TEXT, { uniqueKeys: true, prettyErrors: true });
  const problems = [...document.errors, ...document.warnings].map((e) => e.message);
  assert.deepEqual(problems, [], `${FILE} is not clean YAML`);
  const value: unknown = document.toJS();
  assert.ok(isObject(value), `${FILE} is not a YAML mapping`);
  return value;
}

const spec = loadSpec();

function resolvePointer(ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $ref is allowed, got ${ref}`);
  let node: unknown = spec;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    assert.ok(isObject(node) && key in node, `unresolved $ref ${ref}`);
    node = node[key];
  }
  return node;
}

/** The object itself, or what its `$ref` points at (refs may chain). */
function deref(node: unknown): Json {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    assert.ok(hops < 16, 'reference chain too long');
    current = resolvePointer(current.$ref);
  }
  assert.ok(isObject(current), 'expected an object');
  return current;
}

const section = (name: string): Json => (isObject(spec[name]) ? spec[name] : {});
const components = section('components');
const channels = section('channels');
const operations = section('operations');
const componentSchemas = (isObject(components.schemas) ? components.schemas : {}) as Json;

// ---- ajv: draft-07, strict (unknown keywords and formats are errors) ----

const SCHEMA_BASE = 'https://facet.invalid/asyncapi/schemas/';

const absoluteRefs = (node: unknown): unknown => rebaseRefs(SCHEMA_BASE, node);

const ajv = new Ajv({ strict: true, allErrors: true });
ajvFormats.default(ajv);
for (const [name, schema] of Object.entries(componentSchemas)) ajv.addSchema({ ...(absoluteRefs(schema) as Json), $id: `${SCHEMA_BASE}${name}` });

function compile(schema: unknown, where: string): ValidateFunction {
  let validate: ValidateFunction | undefined;
  assert.doesNotThrow(() => {
    validate = ajv.compile(absoluteRefs(schema) as Json);
  }, `${where} does not compile`);
  assert.ok(validate, `${where} did not compile`);
  return validate;
}

function check(schema: unknown, value: unknown, where: string): void {
  const validate = compile(schema, where);
  if (!validate(value)) assert.fail(`${FILE}: ${where} does not match its schema: ${ajv.errorsText(validate.errors, { dataVar: 'example' })}`);
}

// ---- walking the document ----

interface MessageInfo {
  where: string;
  message: Json;
}

/** Every message: the components' and those defined inline in channels. */
function allMessages(): MessageInfo[] {
  const out: MessageInfo[] = [];
  for (const [name, raw] of Object.entries((components.messages as Json | undefined) ?? {})) out.push({ where: `components.messages.${name}`, message: deref(raw) });
  for (const [channel, rawChannel] of Object.entries(channels)) {
    for (const [name, raw] of Object.entries((deref(rawChannel).messages as Json | undefined) ?? {})) {
      if (isObject(raw) && '$ref' in raw) continue;
      out.push({ where: `channels.${channel}.messages.${name}`, message: deref(raw) });
    }
  }
  return out;
}

interface ChannelInfo {
  name: string;
  address: string;
  channel: Json;
  amqp: Json;
}

function channelInfos(): ChannelInfo[] {
  return Object.entries(channels).map(([name, raw]) => {
    const channel = deref(raw);
    const bindings = channel.bindings === undefined ? {} : deref(channel.bindings);
    const amqp = bindings.amqp === undefined ? {} : deref(bindings.amqp);
    return { name, address: String(channel.address), channel, amqp };
  });
}

/** Channels that are a routing key on `commands` or `events`, by exchange logical name. */
function routingKeyChannels(): { exchange: string; info: ChannelInfo }[] {
  const out: { exchange: string; info: ChannelInfo }[] = [];
  for (const info of channelInfos()) {
    if (info.amqp.is !== 'routingKey') continue;
    const exchange = topology.logicalExchange(String((info.amqp.exchange as Json | undefined)?.name));
    if (exchange === 'commands' || exchange === 'events') out.push({ exchange, info });
  }
  return out;
}

/** AMQP topic match: `*` one word, `#` zero or more. */
function topicMatches(pattern: string, key: string): boolean {
  const p = pattern.split('.');
  const k = key.split('.');
  const match = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') return match(i + 1, j) || (j < k.length && match(i, j + 1));
    return j < k.length && (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/** The ConsumerSpecs the gateway, the saga and the MES adapter subscribe with, captured from their own start-up code. */
async function consumerSpecs(): Promise<{ owner: string; spec: ConsumerSpec }[]> {
  const captured: { owner: string; spec: ConsumerSpec }[] = [];
  let owner = '';
  const none: Subscription = { cancel: () => Promise.resolve() };
  const bus = {
    kind: 'memory',
    connected: true,
    consume: (spec: ConsumerSpec) => {
      captured.push({ owner, spec });
      return Promise.resolve(none);
    },
    publish: () => Promise.resolve(),
    onStateChange: () => () => {},
    close: () => Promise.resolve(),
  } as unknown as Bus;
  owner = 'gateway';
  await consumeEvents({ bus } as unknown as GatewayServices);
  owner = 'saga';
  await startSagaConsumers(bus, { logger: silentLogger } as unknown as SagaDeps, {} as OrderLocks);
  owner = 'mes-adapter';
  await startMesTranslator(bus, silentLogger);
  await startTakeConsumer(bus, {} as MesClient, silentLogger);
  owner = 'webhooks';
  await startWebhooks({ bus, store: new MemoryWebhookStore(), policy: { requireHttps: true, allowLoopback: false } });
  return captured;
}

// ---- the tests ----

describe('AsyncAPI contract (openapi/asyncapi.yaml)', () => {
  test('is AsyncAPI 3.0.0 with a title, a version and an amqp 0-9-1 server', () => {
    assert.equal(spec.asyncapi, '3.0.0');
    const info = section('info');
    assert.ok(typeof info.title === 'string' && typeof info.version === 'string', 'info.title and info.version');
    const servers = Object.values(section('servers')).map(deref);
    assert.ok(servers.length > 0, 'no servers');
    for (const server of servers) assert.deepEqual([server.protocol, server.protocolVersion], ['amqp', '0-9-1']);
    assert.equal(spec.defaultContentType, 'application/json');
  });

  test('@asyncapi/parser accepts it without errors or warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(SPEC_TEXT);
    // Severity 0 = error, 1 = warning; info and hints (e.g. "3.1.0 exists") are fine.
    const problems = diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
    assert.deepEqual(problems, [], `${FILE} has problems`);
    assert.ok(document, `${FILE} did not parse`);
  });

  test('every schema compiles under ajv (draft-07, strict); every message has a payload', () => {
    for (const name of Object.keys(componentSchemas)) {
      let compiled: ValidateFunction | undefined;
      assert.doesNotThrow(() => {
        compiled = ajv.getSchema(`${SCHEMA_BASE}${name}`);
      }, `components.schemas.${name} does not compile`);
      assert.ok(compiled, `components.schemas.${name} did not compile`);
    }
    const messages = allMessages();
    assert.ok(messages.length > 0, 'no messages');
    for (const { where, message } of messages) {
      assert.ok(message.payload !== undefined, `${where} has no payload`);
      assert.ok(!('schemaFormat' in message), `${where}: only the default schema format is used`);
      compile(message.payload, `${where}.payload`);
      if (message.headers !== undefined) {
        const headers = deref(message.headers);
        assert.equal(headers.type, 'object', `${where}.headers must be an object schema`);
        compile(message.headers, `${where}.headers`);
      }
    }
  });

  test('every example validates against its schema', () => {
    let checked = 0;
    for (const { where, message } of allMessages()) {
      const examples = (message.examples as unknown[] | undefined) ?? [];
      assert.ok(examples.length > 0, `${where} has no example`);
      for (const [i, raw] of examples.entries()) {
        assert.ok(isObject(raw), `${where}.examples[${i}] is not an object`);
        const label = `${where}.examples[${i}] (${String(raw.name)})`;
        assert.ok('payload' in raw, `${label} has no payload`);
        check(message.payload, raw.payload, `${label}.payload`);
        if (raw.headers !== undefined) {
          assert.ok(message.headers !== undefined, `${label} has headers but the message has no headers schema`);
          check(message.headers, raw.headers, `${label}.headers`);
        }
        checked++;
      }
    }
    // `examples` inside schemas too.
    const walk = (node: unknown, where: string) => {
      if (Array.isArray(node)) return node.forEach((item, i) => walk(item, `${where}[${i}]`));
      if (!isObject(node)) return;
      if (Array.isArray(node.examples) && ('type' in node || '$ref' in node || 'const' in node || 'enum' in node)) {
        node.examples.forEach((value, i) => check(node, value, `${where}.examples[${i}]`));
      }
      for (const [key, child] of Object.entries(node)) if (key !== 'examples') walk(child, `${where}.${key}`);
    };
    walk(componentSchemas, 'components.schemas');
    assert.ok(checked > 0, 'no examples');
  });

  test('schemas shared with the Seller API are the same, annotations aside', () => {
    const seller = parseDocument(readFileSync(new URL('../../openapi/seller-api.yaml', import.meta.url), 'utf8')).toJS() as { components: { schemas: Json } };
    const strip = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(strip);
      if (!isObject(node)) return node;
      return Object.fromEntries(Object.entries(node).filter(([key]) => !['description', 'examples', 'title'].includes(key)).map(([key, value]) => [key, key === 'properties' && isObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(v)])) : strip(value)]));
    };
    for (const name of SHARED_WITH_SELLER_API) {
      assert.ok(name in componentSchemas, `components.schemas.${name} is missing`);
      assert.deepEqual(strip(componentSchemas[name]), strip(seller.components.schemas[name]), `components.schemas.${name} differs from the Seller API's`);
    }
  });

  test('every routing key of ROUTING is a channel, and every command/event channel a known routing key', () => {
    const onBus = routingKeyChannels();
    for (const [name, key] of Object.entries(ROUTING)) {
      const matching = onBus.filter(({ info }) => (key.includes('*') || key.includes('#') ? topicMatches(key, info.address) : info.address === key));
      assert.ok(matching.length > 0, `ROUTING.${name} (${key}) has no channel on facet.v1.commands or facet.v1.events`);
    }
    const known = Object.values(ROUTING) as string[];
    for (const { info } of onBus) {
      assert.ok(
        known.some((key) => key === info.address || topicMatches(key, info.address)) || PROPOSED_ROUTING_KEYS.has(info.address),
        `channel ${info.name} (${info.address}) is not a routing key of contracts/messages.ts ROUTING`,
      );
    }
    // Commands on commands, everything else on events.
    for (const { exchange, info } of onBus) {
      const isCommand = info.address === ROUTING.placeOrder || info.address === ROUTING.cancelOrder || info.address === ROUTING.takeOrder || info.address === ROUTING.webhookDeliver;
      assert.equal(exchange, isCommand ? 'commands' : 'events', `channel ${info.name}: exchange`);
    }
  });

  test('a command/event channel carries messages whose AMQP type is its routing key', () => {
    for (const { info } of routingKeyChannels()) {
      const messages = Object.values((info.channel.messages as Json | undefined) ?? {}).map(deref);
      assert.ok(messages.length > 0, `channel ${info.name} has no message`);
      for (const message of messages) {
        assert.equal(message.name, info.address, `channel ${info.name}: message name`);
        const amqp = deref(deref(message.bindings).amqp);
        assert.equal(amqp.messageType, info.address, `channel ${info.name}: bindings.amqp.messageType`);
      }
    }
  });

  test('exchanges and queue arguments are those platform/bus/topology.ts declares', () => {
    const infos = channelInfos();
    const byAddress = new Map(infos.map((i) => [i.address, i]));
    // Routing-key channels: their exchange.
    for (const info of infos.filter((i) => i.amqp.is === 'routingKey')) {
      const exchange = info.amqp.exchange as Json;
      const expected = [topology.exchange('commands'), topology.exchange('events'), topology.deadExchange];
      assert.ok(expected.includes(String(exchange.name)), `channel ${info.name}: unknown exchange ${String(exchange.name)}`);
      assert.deepEqual({ type: exchange.type, durable: exchange.durable, autoDelete: exchange.autoDelete }, { type: 'topic', durable: true, autoDelete: false }, `channel ${info.name}: exchange ${String(exchange.name)}`);
    }
    // The parking queue.
    const dead = byAddress.get(topology.deadQueue);
    assert.ok(dead, `no channel for the parking queue ${topology.deadQueue}`);
    assert.deepEqual((dead.amqp.queue as Json)['x-arguments'], { 'x-queue-type': 'quorum' }, `${topology.deadQueue}: arguments`);
    assert.deepEqual(dead.channel['x-facet-bindings'], [{ exchange: topology.deadExchange, pattern: '#' }], `${topology.deadQueue}: bound to ${topology.deadExchange} with #`);
    // The delay levels.
    const delay = infos.find((i) => i.address.includes('{delayMs}'));
    assert.ok(delay, 'no channel for the retry delay levels');
    assert.equal(delay.address.replace('{delayMs}', '1000'), topology.delayTarget(1000), 'delay level name');
    const delayArgs = { ...topology.delayQueueArguments(1000), 'x-message-ttl': '<delayMs>' };
    assert.deepEqual((delay.amqp.queue as Json)['x-arguments'], delayArgs, 'delay queue arguments');
    assert.deepEqual(delay.amqp['x-exchange'], { type: 'fanout', durable: true, autoDelete: false }, 'delay exchange');
    // Consumer queues.
    for (const info of infos.filter((i) => i.amqp.is === 'queue' && i !== dead && i !== delay)) {
      const queue = info.amqp.queue as Json;
      assert.equal(queue.name, info.address, `channel ${info.name}: queue name is the address`);
      assert.deepEqual({ durable: queue.durable, exclusive: queue.exclusive, autoDelete: queue.autoDelete }, { durable: true, exclusive: false, autoDelete: false }, `channel ${info.name}: queue flags`);
      assert.deepEqual(queue['x-arguments'], topology.consumerQueueArguments(info.address), `channel ${info.name}: queue arguments`);
    }
  });

  test('the consumer queues and their bindings are those the gateway, the saga and the MES adapter subscribe with', async () => {
    const specs = await consumerSpecs();
    assert.deepEqual([...new Set(specs.map((s) => s.owner))], ['gateway', 'saga', 'mes-adapter', 'webhooks'], 'every consumer was captured');
    const consumerChannels = channelInfos().filter((i) => i.amqp.is === 'queue' && i.address !== topology.deadQueue && !i.address.includes('{'));
    const documented = new Map(consumerChannels.map((i) => [i.address, i]));
    for (const { owner, spec: consumer } of specs) {
      const name = topology.queue(consumer.queue);
      const info = documented.get(name);
      assert.ok(info, `${owner} consumes from ${name}, which has no channel`);
      const bindings = consumer.bindings.map((b) => ({ exchange: topology.exchange(b.exchange), pattern: b.pattern }));
      assert.deepEqual(info.channel['x-facet-bindings'], bindings, `channel ${info.name}: x-facet-bindings are ${owner}'s bindings`);
      // The messages the queue gets are exactly those of the channels its bindings match.
      const routed = routingKeyChannels()
        .filter(({ exchange, info: rk }) => consumer.bindings.some((b) => b.exchange === exchange && topicMatches(b.pattern, rk.address)))
        .flatMap(({ info: rk }) => Object.values((rk.channel.messages as Json | undefined) ?? {}).map((m) => String(deref(m).name)))
        .sort();
      const listed = Object.values((info.channel.messages as Json | undefined) ?? {})
        .map((m) => String(deref(m).name))
        .sort();
      assert.deepEqual(listed, routed, `channel ${info.name}: its messages are those its bindings route to it`);
      documented.delete(name);
    }
    assert.deepEqual([...documented.keys()], [], 'queue channels no consumer in the code subscribes with');
    // Every receive operation reads a queue channel, every send operation publishes to an exchange channel.
    for (const [name, raw] of Object.entries(operations)) {
      const operation = deref(raw);
      const channel = deref(operation.channel);
      const amqp = deref(deref(channel.bindings).amqp);
      if (operation.action === 'receive') assert.equal(amqp.is, 'queue', `operation ${name} receives from a queue`);
      else assert.ok(amqp.is === 'routingKey' || String(channel.address).includes('{delayMs}'), `operation ${name} sends to an exchange (or a delay level)`);
    }
  });

  test("the MES adapter's translation of each MES example is the documented canonical message", () => {
    const legacy = routingKeyChannels().filter(({ info }) => info.address.startsWith('mes.legacy.'));
    assert.equal(legacy.length, 3, 'three MES event channels');
    const channelByKey = new Map(routingKeyChannels().map(({ info }) => [info.address, info]));
    for (const { info } of legacy) {
      for (const raw of Object.values((info.channel.messages as Json | undefined) ?? {})) {
        const message = deref(raw);
        for (const example of (message.examples as Json[] | undefined) ?? []) {
          const where = `${info.name} example ${String(example.name)}`;
          const event = example.payload as MesEvent;
          assert.equal(legacyRoutingKey(event), info.address, `${where}: the MES publishes it under this routing key`);
          assert.match(String(message.description), new RegExp(`^\`message-id\`: \`mes:${event.type}:<`), `${where}: documented message id`);
          assert.ok(legacyMessageId(event).startsWith(`mes:${event.type}:`), `${where}: message id`);
          const translated = translateLegacyEvent(parseLegacyEvent(info.address, event));
          const target = channelByKey.get(translated.routingKey);
          assert.ok(target, `${where}: translated to ${translated.routingKey}, which has no channel`);
          const targetMessage = deref(Object.values(target.channel.messages as Json)[0]);
          check(targetMessage.payload, translated.message.body, `${where} translated to ${translated.routingKey}`);
          assert.equal(translated.message.type, translated.routingKey, `${where}: type is the routing key`);
          assert.ok(translated.message.id.startsWith(`${translated.routingKey}:`), `${where}: translated message id`);
        }
      }
    }
  });
});
