// What policies and handlers are given to work with. Built once per config.

import type { GatewayConfig } from './config/types.ts';
import { ConsumerDirectory } from './consumers.ts';
import type { ContractRegistry } from './openapi/contracts.ts';
import { UpstreamRegistry } from './upstream/client.ts';

export interface GatewayServices {
  config: GatewayConfig;
  contracts: ContractRegistry;
  upstreams: UpstreamRegistry;
  consumers: ConsumerDirectory;
}

export function createServices(config: GatewayConfig, contracts: ContractRegistry): GatewayServices {
  return {
    config,
    contracts,
    upstreams: new UpstreamRegistry(config.serviceEndpoints),
    consumers: new ConsumerDirectory(config.consumers),
  };
}

export async function closeServices(services: GatewayServices): Promise<void> {
  await services.upstreams.close();
}
