// The CRM and MES URLs a gateway or the adapters are started with: the
// simulators' (simulator-services.ts), or, for a process whose path under
// test calls neither, a loopback port nothing listens on.

import { freePort } from './ports.ts';
import { HOST } from './service-launcher.ts';
import type { Service } from './service-launcher.ts';

export interface GatewayUpstreams {
  crm: Pick<Service, 'url'>;
  mes: Pick<Service, 'url'>;
}

/**
 * CRM and MES URLs for a process whose path under test calls neither (the
 * notification scenarios): a loopback port nothing listens on, so a call
 * fails at once instead of loading simulators that have no part in the
 * measurement (the gateway's dashboard refresh-ahead still tries every 8 s).
 */
export async function unreachableUpstreams(): Promise<GatewayUpstreams> {
  const url = `http://${HOST}:${await freePort()}`;
  return { crm: { url }, mes: { url } };
}
