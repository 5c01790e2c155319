// Helpers the scenarios share: ratios and targets, Redis counters, the
// demo sellers.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { processCpuMicros } from '../cpu.ts';
import type { CounterProbe, CpuProbe } from '../measure.ts';
import type { Comparison, TargetResult } from './types.ts';

const run = promisify(execFile);

/** The seeded demo sellers (gateway.config.yml, SIM_SEED 42). */
export const SELLERS = {
  free: { id: 'slr_0001', key: 'demo-free-key', plan: 'free' },
  standard: { id: 'slr_0002', key: 'demo-pro-key', plan: 'standard' },
  enterprise: { id: 'slr_0003', key: 'demo-enterprise-key', plan: 'enterprise' },
} as const;

/** Real orders of each demo seller in the default seed. */
export const ORDERS = {
  slr_0002: 'ord_jzsbc0p7cvze',
  slr_0003: 'ord_n6boxl08arnb',
  slr_0001: 'ord_ljovh1i93dd8',
} as const;

export function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : 'n/a';
}

export function ms(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)} ms`;
}

export function percent(n: number | undefined, digits = 1): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : `${(n * 100).toFixed(digits)}%`;
}

export function perSec(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : `${Math.round(n).toLocaleString('en-US')} req/s`;
}

export function micros(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : `${Math.round(n)} µs`;
}

export function comparison(label: string, value: string): Comparison {
  return { label, value };
}

/** A target as met / not met; a value that could not be measured is "not met". */
export function target(text: string, value: number | undefined, shown: string, met: (v: number) => boolean): TargetResult {
  return { target: text, value: shown, met: value !== undefined && Number.isFinite(value) && met(value) };
}

/** Writes (TCP data segments sent) of `pid`'s sockets to Redis's port: one per auto-pipelined batch, i.e. per round trip. */
async function redisWritesOf(pid: number, port: number): Promise<number> {
  const { stdout } = await run('ss', ['-tinpH', 'state', 'established', `( dport = :${port} )`], { timeout: 5000 });
  let total = 0;
  let mine = false;
  let found = false;
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line) || line.includes('users:(')) mine = line.includes(`pid=${pid},`);
    const segments = /\bdata_segs_out:(\d+)/.exec(line);
    if (mine && segments) {
      total += Number(segments[1]);
      found = true;
    }
  }
  if (!found) throw new Error(`no socket of pid ${pid} to port ${port}`);
  return total;
}

/** Calls per command from INFO commandstats (server-wide: every client of this Redis server counts). */
async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const out: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[match[1] as string] = Number(match[2]);
  return out;
}

/**
 * Redis work per request: `writes` = round trips the gateway process made
 * (its sockets' data segments to Redis, from `ss`), and `cmd:<name>` =
 * commands the server executed (INFO commandstats, server-wide, minus the
 * INFO calls of this probe itself).
 */
export function redisProbe(redis: Redis, gatewayPid: number, port = 6379): CounterProbe {
  return {
    label: 'redis',
    async read() {
      const out: Record<string, number> = {};
      try {
        out.writes = await redisWritesOf(gatewayPid, port);
      } catch {
        // no ss, or no socket: writes stay n/a
      }
      for (const [name, calls] of Object.entries(await commandCalls(redis))) if (name !== 'info') out[`cmd:${name}`] = calls;
      return out;
    },
  };
}

/**
 * Commands per request (from redisProbe's counters), largest first, e.g.
 * "evalsha 2.00, get 1.00, incrby 2.00". INFO commandstats also counts the
 * commands a Lua script runs (rate-limiter-flexible's script runs SET NX,
 * INCRBY and PTTL for each EVALSHA), so those appear beside the EVALSHA.
 */
export function commandsPerRequest(counters: Record<string, number>): { evalsha: number; text: string } {
  const entries = Object.entries(counters)
    .filter(([key, v]) => key.startsWith('redis.cmd:') && v >= 0.005)
    .map(([key, v]) => [key.slice('redis.cmd:'.length), v] as const)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const evalsha = entries.filter(([name]) => name === 'evalsha' || name === 'eval').reduce((sum, [, v]) => sum + v, 0);
  return { evalsha, text: entries.length === 0 ? 'none' : entries.map(([name, v]) => `${name} ${v.toFixed(2)}`).join(', ') };
}

/**
 * The Redis server's pid (INFO server), for its CPU per request: it runs on
 * the same two CPUs. Server-wide like commandstats: other clients' work
 * counts too. Undefined when it cannot be read (e.g. Redis elsewhere).
 */
export async function redisServerPid(redis: Redis): Promise<number | undefined> {
  const match = /^process_id:(\d+)/m.exec(await redis.info('server'));
  const pid = match ? Number(match[1]) : undefined;
  return pid !== undefined && processCpuMicros(pid) !== undefined ? pid : undefined;
}

/** A CPU probe for the Redis server, when its process is readable here. */
export async function redisCpuProbe(redis: Redis): Promise<CpuProbe[]> {
  const pid = await redisServerPid(redis);
  return pid === undefined ? [] : [{ label: 'Redis server', pid }];
}

/** Cache-Status without its changing numbers: "facet; hit; ttl=3" → "facet; hit". */
export function cacheStatusKind(value: string): string {
  return value
    .split(';')
    .map((part) => part.trim())
    .filter((part) => !part.startsWith('ttl='))
    .join('; ');
}
