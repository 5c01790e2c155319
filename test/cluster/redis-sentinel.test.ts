// Redis behind Sentinel (REDIS_SENTINELS + REDIS_SENTINEL_NAME), for real:
// a primary, a replica and a sentinel started by this test on loopback.
// Facet's client (platform/redis.ts) finds the primary through Sentinel;
// when the primary is SIGKILLed, Sentinel promotes the replica and the same
// client, without a restart, writes there, with what was written before.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedis, redisReady, redisTargetFromEnv, type RedisClient } from '../../platform/redis.ts';
import { RedisKeyValueStore } from '../../platform/state/kv.ts';
import { waitFor } from '../adapters/helpers.ts';
import { freePort } from '../helpers/processes.ts';

const NAME = 'facetprimary';

describe('Redis behind Sentinel', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'facet-sentinel-'));
  const children: ChildProcess[] = [];
  let primaryPort = 0;
  let replicaPort = 0;
  let sentinelPort = 0;
  let primary: ChildProcess;
  let client: RedisClient;

  const server = (args: string[]): ChildProcess => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    children.push(child);
    return child;
  };
  const cli = async (port: number, ...args: string[]): Promise<string> => {
    const child = spawn('redis-cli', ['-p', String(port), ...args]);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    return out;
  };

  before(async () => {
    [primaryPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir];
    primary = server(['--port', String(primaryPort), '--appendfilename', 'p.aof', '--appenddirname', 'p', ...common]);
    server(['--port', String(replicaPort), '--replicaof', '127.0.0.1', String(primaryPort), '--appendfilename', 'r.aof', '--appenddirname', 'r', ...common]);
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${NAME} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${NAME} 1000`,
        `sentinel failover-timeout ${NAME} 10000`,
      ].join('\n') + '\n',
    );
    server([conf, '--sentinel']);
    await waitFor(async () => (await cli(replicaPort, 'info', 'replication')).includes('master_link_status:up'), 20_000, 'replica in sync');
    await waitFor(async () => (await cli(sentinelPort, 'sentinel', 'replicas', NAME)).includes(String(replicaPort)), 30_000, 'sentinel knows the replica');
  });

  after(async () => {
    client?.disconnect();
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the primary through Sentinel, and after a failover writes to the promoted replica without a restart', async (t) => {
    const target = redisTargetFromEnv({ REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: NAME });
    assert.ok(target);
    client = createRedis({ target, commandTimeoutMs: 1_000 });
    await redisReady(client, 20_000, 'sentinel');
    const store = new RedisKeyValueStore(client);
    await store.set('facet:sentinel:before', 'kept', 60);
    assert.match(String(await client.call('role')), /^master/);
    // Replicated before the crash (replication is asynchronous: WAIT makes it so here).
    assert.equal(await client.call('wait', '1', '5000'), 1);

    const killedAt = Date.now();
    primary.kill('SIGKILL');
    let failures = 0;
    await waitFor(
      async () => {
        try {
          await store.set('facet:sentinel:after', 'written', 60);
          return true;
        } catch {
          failures++;
          return false;
        }
      },
      60_000,
      'a write after the failover',
    );
    t.diagnostic(`writes failed for ${Date.now() - killedAt} ms (${failures} attempts) until Sentinel promoted the replica`);
    const info = await cli(replicaPort, 'info', 'replication');
    assert.match(info, /role:master/, 'the replica was promoted');
    assert.equal(await store.get('facet:sentinel:before'), 'kept');
    assert.equal(await cli(replicaPort, 'get', 'facet:sentinel:after'), 'written\n', 'the write went to the promoted replica');
  });
});
