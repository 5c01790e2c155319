// Redis restarting empty loses what Facet cannot rebuild (saga state,
// idempotency records, pending orders, API-made keys). Shown here on real
// redis-server processes: a volatile one forgets a saga across a restart,
// one with an append-only file keeps it; and in production the gateway and
// the adapters refuse a Redis without AOF unless FACET_ALLOW_VOLATILE_REDIS=true.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedis, type RedisClient } from '../../platform/redis.ts';
import { RedisKeyValueStore } from '../../platform/state/kv.ts';
import { VolatileRedisError, checkRedisDurability } from '../../platform/state/persistence.ts';
import { SagaStore } from '../../adapters/saga/store.ts';
import { newSagaState } from '../../adapters/saga/state.ts';
import { startAdaptersProcess } from '../../adapters/main.ts';
import { generateDataset } from '../../sim/data/seed.ts';
import { AMQP_URL, placeCommand, randomTag, waitFor } from '../adapters/helpers.ts';
import { uniquePrefix } from '../bus/helpers.ts';
import { freePort } from '../helpers/processes.ts';

const GATEWAY_ENTRY = resolve(import.meta.dirname, '../../entries/gateway.ts');

class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'facet-redis-'));
  private child: ChildProcess | undefined;
  port = 0;
  private readonly args: string[];
  constructor(args: string[]) {
    this.args = args;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...this.args], { stdio: 'ignore' });
    await waitFor(() => spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.includes('PONG'), 10_000, `redis-server :${this.port}`);
  }

  /** SHUTDOWN as a restart would (AOF flushed when on), then wait for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    spawnSync('redis-cli', ['-p', String(this.port), 'shutdown', 'nosave']);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function connect(url: string): Promise<RedisClient> {
  const redis = createRedis({ url, commandTimeoutMs: 2_000 });
  await waitFor(() => redis.status === 'ready', 10_000, 'redis ready');
  return redis;
}

describe('Redis persistence', () => {
  const volatile = new RedisServer(['--appendonly', 'no', '--save', '']);
  const durable = new RedisServer(['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']);
  const production = { NODE_ENV: 'production' };
  const command = placeCommand(generateDataset(7, 3, 20).orders[0]!, `ord_persist_${randomTag()}`);

  before(async () => {
    await Promise.all([volatile.start(), durable.start()]);
  });
  after(async () => {
    await Promise.all([volatile.remove(), durable.remove()]);
  });

  for (const [name, server, survives] of [
    ['without persistence, a restart forgets the saga of an order waiting for its price', volatile, false],
    ['with an append-only file, the saga survives the restart', durable, true],
  ] as const) {
    it(name, async () => {
      let redis = await connect(server.url);
      const store = () => new SagaStore(new RedisKeyValueStore(redis));
      const state = { ...newSagaState(command), step: 'pricing' as const, price_job_id: 'pj_1' };
      await store().save(state);
      redis.disconnect();
      await server.stop();
      await server.start();
      redis = await connect(server.url);
      try {
        const loaded = await store().load(command.order_id);
        if (survives) assert.equal(loaded?.step, 'pricing');
        else assert.equal(loaded, null, 'quote.ready would now find no saga: the order stays PRICING forever');
      } finally {
        redis.disconnect();
      }
    });
  }

  it('checkRedisDurability: refuses a volatile Redis in production, names the fix, and can be overridden', async () => {
    const redis = await connect(volatile.url);
    try {
      assert.equal(await checkRedisDurability(redis, {}, 'gateway'), undefined, 'development: no check');
      await assert.rejects(checkRedisDurability(redis, production, 'gateway'), (err: unknown) => {
        assert.ok(err instanceof VolatileRedisError);
        assert.match(err.message, /no persistence at all/);
        assert.match(err.message, /appendonly yes/);
        assert.match(err.message, /FACET_ALLOW_VOLATILE_REDIS=true/);
        return true;
      });
      await redis.config('SET', 'save', '900 1');
      await assert.rejects(checkRedisDurability(redis, production, 'gateway'), /only RDB snapshots/);
      await redis.config('SET', 'save', '');
      assert.match((await checkRedisDurability(redis, { ...production, FACET_ALLOW_VOLATILE_REDIS: 'true' }, 'gateway')) ?? '', /starting anyway/);
    } finally {
      redis.disconnect();
    }
    const aof = await connect(durable.url);
    try {
      assert.equal(await checkRedisDurability(aof, production, 'gateway'), undefined);
    } finally {
      aof.disconnect();
    }
  });

  it('the production gateway process exits 1 on a volatile Redis, saying why', async () => {
    const child = spawn(process.execPath, [GATEWAY_ENTRY], {
      env: { ...process.env, ...production, REDIS_URL: volatile.url, JWT_SECRET: 'a-test-secret-of-enough-length-000000', CRM_URL: 'http://127.0.0.1:9', MES_URL: 'http://127.0.0.1:9', AMQP_URL: '', PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 1, output);
    assert.match(output, /appendonly yes/);
  });

  it('the adapters process refuses it too', async () => {
    await assert.rejects(
      startAdaptersProcess({ ...production, REDIS_URL: volatile.url, AMQP_URL, AMQP_PREFIX: uniquePrefix(), ADAPTERS_HTTP_PORT: '0', ADAPTERS_HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
      VolatileRedisError,
    );
  });
});
