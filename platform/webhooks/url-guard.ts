// SSRF protection for webhook URLs, used at registration (gateway) and again
// at every delivery (adapters). A URL is refused unless every address its
// host resolves to is public: loopback, private (RFC 1918), CGNAT
// (100.64/10), link-local (169.254/16, the cloud metadata address
// included), unique-local (fc00::/7), unspecified, multicast and reserved
// ranges are refused, also inside IPv4-mapped / NAT64 / 6to4 IPv6 forms.
// At delivery the connection goes to an address this module checked (the
// `lookup` given to undici's connector), so a name cannot resolve to a
// public address at the check and a private one at the connect (DNS
// rebinding). Loopback is allowed only with WEBHOOKS_ALLOW_LOOPBACK=1, which
// a production process refuses to start with. Likewise WEBHOOKS_DEMO_HOSTS
// (`npm start`): documentation hosts such as the spec's example
// `hooks.lumen-jewels.example`, which resolve nowhere, are accepted and
// delivered to a loopback receiver the embedded default serves.

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface UrlPolicy {
  /** Only https (NODE_ENV=production). */
  requireHttps: boolean;
  /** Tests and demos: loopback receivers (127.0.0.0/8, ::1) are allowed. */
  allowLoopback: boolean;
  /**
   * Demos only (never in production): host name → the loopback origin
   * (`http://127.0.0.1:8093`) that receives what is sent to it. The host is
   * accepted without resolving it.
   */
  demoHosts?: Readonly<Record<string, string>>;
}

/** `deliverTo`: where a delivery really goes, when that is not `url` (a demo host's receiver). */
export type UrlCheck = { ok: true; url: URL; deliverTo?: URL } | { ok: false; reason: string };

export const MAX_URL_LENGTH = 2048;

/** Reads the policy from the environment; a production process with the test flag is a start-up error. */
export function urlPolicyFromEnv(env: NodeJS.ProcessEnv): UrlPolicy {
  const production = env.NODE_ENV === 'production';
  const allowLoopback = env.WEBHOOKS_ALLOW_LOOPBACK === '1';
  if (production && allowLoopback) throw new Error('WEBHOOKS_ALLOW_LOOPBACK=1 is refused when NODE_ENV=production (webhooks would be sent to this machine)');
  const demoHosts = parseDemoHosts(env.WEBHOOKS_DEMO_HOSTS ?? '');
  if (production && demoHosts) throw new Error('WEBHOOKS_DEMO_HOSTS is refused when NODE_ENV=production (webhooks would be sent to this machine)');
  return { requireHttps: production, allowLoopback, ...(demoHosts && { demoHosts }) };
}

/** `host=http://127.0.0.1:port,...` → the map; every receiver must be a loopback http origin (a demo host cannot point anywhere else). */
export function parseDemoHosts(raw: string): Record<string, string> | undefined {
  const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) return undefined;
  const hosts: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const host = entry.slice(0, at).trim().toLowerCase();
    let origin: URL | undefined;
    try {
      origin = new URL(entry.slice(at + 1).trim());
    } catch {
      origin = undefined;
    }
    const receiverHost = origin?.hostname.replace(/^\[|\]$/g, '') ?? '';
    if (at <= 0 || !origin || origin.protocol !== 'http:' || !(isIP(receiverHost) !== 0 && loopback.check(receiverHost, isIP(receiverHost) === 4 ? 'ipv4' : 'ipv6'))) {
      throw new Error(`WEBHOOKS_DEMO_HOSTS: "${entry}" must be host=http://<loopback address>:<port>`);
    }
    hosts[host] = origin.origin;
  }
  return hosts;
}

const refused = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['169.254.0.0', 16], // link-local, 169.254.169.254 metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) refused.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
  ['100::', 64], // discard
] as const) refused.addSubnet(net, prefix, 'ipv6');
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** The IPv4 address an IPv6 form carries (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), if any. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:(?:0:)?|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:(?:0:)?|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::|$)/.exec(lower);
  const parts = hex ?? sixToFour;
  if (!parts) return undefined;
  const hi = parseInt(parts[1] as string, 16);
  const lo = parseInt(parts[2] as string, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Why this address may not receive webhooks, or undefined when it may. */
export function refusalOf(address: string, policy: UrlPolicy): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const v4 = family === 6 ? embeddedIpv4(address) : undefined;
  if (v4 !== undefined) {
    const inner = refusalOf(v4, policy);
    return inner === undefined ? undefined : `${address} embeds ${v4}: ${inner}`;
  }
  if (loopback.check(address, type)) return policy.allowLoopback ? undefined : `${address} is a loopback address`;
  if (refused.check(address, type)) return `${address} is a private, link-local, multicast or reserved address`;
  return undefined;
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));
}

/** Checks the URL's form and every address its host resolves to now. */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy): Promise<UrlCheck> {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: `is longer than ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not an absolute URL' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !policy.requireHttps)) return { ok: false, reason: policy.requireHttps ? 'must use https' : 'must use https or http' };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'must not carry credentials' };
  if (url.hash !== '') return { ok: false, reason: 'must not have a fragment' };
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const receiver = policy.demoHosts?.[host.toLowerCase()];
  if (receiver !== undefined) return { ok: true, url, deliverTo: new URL(`${url.pathname}${url.search}`, receiver) };
  if (isIP(host) !== 0) {
    const why = refusalOf(host, policy);
    return why === undefined ? { ok: true, url } : { ok: false, reason: `host ${why}` };
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    return { ok: false, reason: `host ${host} does not resolve` };
  }
  for (const { address } of addresses) {
    const why = refusalOf(address, policy);
    if (why !== undefined) return { ok: false, reason: `host ${host} resolves to ${why}` };
  }
  return addresses.length > 0 ? { ok: true, url } : { ok: false, reason: `host ${host} does not resolve` };
}

export class RefusedAddressError extends Error {
  readonly code = 'FACET_WEBHOOK_ADDRESS_REFUSED';
  constructor(reason: string) {
    super(reason);
    this.name = 'RefusedAddressError';
  }
}

/**
 * A `lookup` for net/tls.connect: resolves, refuses unless every address is
 * allowed, and hands the connector only checked addresses, so the socket
 * connects to what was checked.
 */
export function guardedLookup(policy: UrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true, family: options.family ?? 0 }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const bad = addresses.map((a) => refusalOf(a.address, policy)).find((why) => why !== undefined);
      if (bad !== undefined || addresses.length === 0) return callback(new RefusedAddressError(`host ${hostname}: ${bad ?? 'no address'}`), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}
