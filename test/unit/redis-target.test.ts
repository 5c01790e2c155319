// The Redis topology is read from the environment in one place
// (platform/redis.ts): one node, a Cluster's seeds, or Sentinel.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { createRedis, describeRedisTarget, duplicateRedis, redisTargetFromEnv, RedisTargetError } from '../../platform/redis.ts';

describe('Redis topology from the environment', () => {
  it('nothing set: no Redis (the embedded default keeps its in-process stores)', () => {
    assert.equal(redisTargetFromEnv({}), undefined);
    assert.equal(redisTargetFromEnv({ REDIS_URL: '', REDIS_CLUSTER_NODES: ' ' }), undefined);
  });

  it('REDIS_URL: one node, as before', () => {
    assert.deepEqual(redisTargetFromEnv({ REDIS_URL: 'redis://r:6379/2' }), { kind: 'single', url: 'redis://r:6379/2' });
  });

  it('REDIS_CLUSTER_NODES: comma-separated host:port seeds, with the password for every node', () => {
    assert.deepEqual(redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'r1:7000, r2:7001,[::1]:7002', REDIS_PASSWORD: 's3cret' }), {
      kind: 'cluster',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      password: 's3cret',
    });
  });

  it('REDIS_SENTINELS needs REDIS_SENTINEL_NAME', () => {
    assert.throws(() => redisTargetFromEnv({ REDIS_SENTINELS: 's1:26379' }), RedisTargetError);
    assert.deepEqual(redisTargetFromEnv({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'mymaster' }), {
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
    });
  });

  it('refuses two topologies at once and malformed seeds, naming the variable', () => {
    assert.throws(() => redisTargetFromEnv({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r1:7000' }), /REDIS_URL and REDIS_CLUSTER_NODES/);
    assert.throws(() => redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'r1' }), /REDIS_CLUSTER_NODES: "r1" is not host:port/);
    assert.throws(() => redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'r1:99999' }), /not host:port/);
  });

  it('a description never shows the password', () => {
    assert.equal(describeRedisTarget({ kind: 'single', url: 'redis://user:pw@r:6379/1' }), 'redis://r:6379/1');
    assert.equal(describeRedisTarget({ kind: 'cluster', nodes: [{ host: 'a', port: 1 }], password: 'pw' }), 'cluster a:1');
  });
});

describe('createRedis and duplicateRedis build the client the topology needs', () => {
  it('a Cluster for cluster seeds, with fail-fast commands per node; its duplicate is a Cluster with the overrides', () => {
    const client = createRedis({ target: { kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }] }, commandTimeoutMs: 123 });
    try {
      assert.ok(client instanceof Cluster);
      assert.equal(client.options.enableOfflineQueue, false);
      assert.equal(client.options.redisOptions?.commandTimeout, 123);
      const reader = duplicateRedis(client, { commandTimeout: undefined, enableOfflineQueue: true, maxRetriesPerRequest: null });
      try {
        assert.ok(reader instanceof Cluster);
        assert.equal(reader.options.enableOfflineQueue, true);
        assert.equal(reader.options.redisOptions?.commandTimeout, undefined);
        assert.equal(reader.options.redisOptions?.maxRetriesPerRequest, null);
      } finally {
        reader.disconnect();
      }
    } finally {
      client.disconnect();
    }
  });

  it('a plain client for a URL, as before', () => {
    const client = createRedis({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 50 });
    try {
      assert.ok(client instanceof Redis);
      assert.equal(client.options.commandTimeout, 50);
      assert.equal(client.options.enableOfflineQueue, false);
      const copy = duplicateRedis(client, { enableOfflineQueue: true });
      assert.ok(copy instanceof Redis);
      assert.equal(copy.options.enableOfflineQueue, true);
      copy.disconnect();
    } finally {
      client.disconnect();
    }
  });
});
