// The three-node RabbitMQ of the tests: one implementation with the benchmark harness.
export { startRabbitCluster, type RabbitClusterHandle, type RabbitNode } from '../../loadtests/bench/rabbit-cluster.ts';
