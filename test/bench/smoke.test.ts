// The benchmark harness end to end, briefly: `npm run bench -- --smoke
// --duration 1` must start the stack, measure both variants of
// proxy-get-order, print the table, stop its processes and exit 0.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../loadtests/bench/main.ts', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/performance.md', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
