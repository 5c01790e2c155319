// The loopback Redis Cluster of the tests: one implementation with the benchmark harness.
export { startRedisCluster, type RedisClusterHandle, type RedisClusterNode } from '../../loadtests/bench/redis-cluster.ts';
