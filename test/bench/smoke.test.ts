// The benchmark harness end to end, briefly: `npm run bench -- --smoke
// --duration 1` must start the stack, measure both variants of
// proxy-get-order, print the table, stop its processes and exit 0; and the
// notification scenarios (real Redis and RabbitMQ: TEST_REDIS_URL, AMQP_URL)
// must measure every delivery variant without losing an event, and leave
// neither queues nor keys behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { STREAM_KEY } from '../../gateway/notify/redis-feed-log.ts';
import { AMQP_URL } from '../bus/helpers.ts';
import { REDIS_URL } from '../helpers/redis.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../loadtests/bench/main.ts', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/performance.md', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGINT'); // the harness stops its own children on SIGINT
      reject(new Error(`bench did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** The req/s cell of the row whose first cell is `variant`. */
function reqPerSec(markdown: string, variant: string): number {
  const line = markdown.split('\n').find((l) => l.startsWith(`| ${variant} |`));
  assert.ok(line, `no "${variant}" row in:\n${markdown}`);
  const cell = line.split('|')[2]?.trim() ?? '';
  return Number(cell.replaceAll(',', ''));
}

test('bench --smoke runs proxy-get-order and prints both rows', { timeout: 60_000 }, async () => {
  const docBefore = mtime(DOC);
  const docText = docBefore === undefined ? undefined : readFileSync(DOC, 'utf8');
  const run = await runBench(['--smoke', '--duration', '1', '--scenario', 'proxy-get-order'], 50_000);
  assert.equal(run.code, 0, `exit ${run.code}\nstderr:\n${run.stderr}\nstdout:\n${run.stdout}`);
  assert.match(run.stdout, /^## proxy-get-order$/m);
  for (const variant of ['gateway', 'direct']) {
    const rate = reqPerSec(run.stdout, variant);
    assert.ok(Number.isFinite(rate) && rate > 0, `${variant} req/s should be positive, got ${rate}`);
  }
  assert.match(run.stdout, /gateway CPU µs\/req/);
  // Smoke numbers are not results: the docs stay as they were.
  assert.equal(mtime(DOC), docBefore);
  if (docText !== undefined) assert.equal(readFileSync(DOC, 'utf8'), docText);
});

/** The cells of the row whose first cell is `variant`, by the header of the table it is in. */
function rowCells(markdown: string, variant: string): Record<string, string> {
  const lines = markdown.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`| ${variant} |`));
  assert.ok(at >= 0, `no "${variant}" row in:\n${markdown}`);
  let header = at;
  while (header > 0 && lines[header - 1]?.startsWith('|')) header--;
  const cells = (line: string): string[] => line.split('|').slice(1, -1).map((c) => c.trim());
  const names = cells(lines[header] as string);
  const values = cells(lines[at] as string);
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? '']));
}

/** Whether the broker still has `queue` (a passive declare fails the channel with 404 when it does not). */
async function queueExists(queue: string): Promise<boolean> {
  const connection = await connect(AMQP_URL, { timeout: 10_000 });
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.checkQueue(queue);
      await channel.close();
      return true;
    } catch {
      return false;
    }
  } finally {
    await connection.close();
  }
}

const NOTIFICATIONS = [
  { scenario: 'sse-delivery', variants: ['500 clients, 2 replicas', '500 clients, 1 replica', '100 clients, 2 replicas'], queue: 'gateway.events' },
  { scenario: 'webhook-delivery', variants: ['webhooks, 20 events/s', 'webhooks, burst', 'sender alone'], queue: 'webhooks.order-events' },
];

for (const { scenario, variants, queue } of NOTIFICATIONS) {
  test(`bench --smoke runs ${scenario}: every event delivered, nothing left behind`, { timeout: 90_000 }, async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const deliveryRecords = async (): Promise<number> => (await redis.keys('facet:wh:dlv:*')).length;
      const recordsBefore = await deliveryRecords();
      const run = await runBench(['--smoke', '--duration', '1', '--scenario', scenario], 80_000, { BENCH_NOTIFY_REDIS_URL: REDIS_URL, BENCH_AMQP_URL: AMQP_URL });
      assert.equal(run.code, 0, `exit ${run.code}\nstderr:\n${run.stderr}\nstdout:\n${run.stdout}`);
      assert.match(run.stdout, new RegExp(`^## ${scenario}$`, 'm'));
      for (const variant of variants) {
        const row = rowCells(run.stdout, variant);
        const rate = Number(row['deliveries/s']?.replaceAll(',', ''));
        assert.ok(Number.isFinite(rate) && rate > 0, `${variant}: deliveries/s should be positive, got ${row['deliveries/s']}`);
        assert.equal(row.lost, '0%', `${variant}: lost deliveries`);
        assert.ok(Number(row['p99 ms']) > 0, `${variant}: p99 should be a positive latency, got ${row['p99 ms']}`);
      }

      // What the run created is gone: its queues, its feed entries and keys, its webhook records.
      const prefix = /AMQP prefix (facet-bench-[0-9a-f]+)/.exec(run.stderr)?.[1];
      const tag = /order ids ord_(bench[0-9a-f]+)_/.exec(run.stderr)?.[1];
      assert.ok(prefix && tag, `the run should log its AMQP prefix and order ids:\n${run.stderr}`);
      assert.equal(await queueExists(`${prefix}.${queue}`), false, `queue ${prefix}.${queue} left behind`);
      assert.deepEqual(await redis.keys(`*${tag}*`), [], 'keys of the run left behind');
      const entries = (await redis.xrange(STREAM_KEY, '-', '+')) as [string, string[]][];
      assert.equal(entries.filter(([, fields]) => fields.join(' ').includes(tag)).length, 0, 'feed entries of the run left behind');
      assert.equal(await deliveryRecords(), recordsBefore, 'webhook delivery records left behind');
    } finally {
      redis.disconnect();
    }
  });
}
