// Real HTTP for the k6 stand-ins, for an opt-in dry run against a running
// gateway (K6_LIVE_BASE_URL, see scripts.test.ts): k6/http is synchronous,
// so each request is one curl process. Header names come back canonicalised
// the way k6 (Go) does it ("cache-status" → "Cache-Status").

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StubRequest, StubResponse } from './stubs/state.ts';

function canonical(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((part) => (part ? part[0]?.toUpperCase() + part.slice(1) : part))
    .join('-');
}

export function liveRespond(request: StubRequest): StubResponse {
  const dir = mkdtempSync(join(tmpdir(), 'k6-live-'));
  try {
    const args = ['-sS', '-X', request.method, request.url, '-D', join(dir, 'headers'), '-o', join(dir, 'body'), '-w', '%{http_code} %{time_total}', '--max-time', '30'];
    for (const [k, v] of Object.entries(request.params?.headers ?? {})) args.push('-H', `${k}: ${v}`);
    if (request.body !== null && request.body !== undefined) {
      const file = join(dir, 'request');
      writeFileSync(file, request.body instanceof ArrayBuffer ? Buffer.from(request.body) : String(request.body));
      args.push('--data-binary', `@${file}`);
    }
    let out: string;
    try {
      out = execFileSync('curl', args, { encoding: 'utf8' });
    } catch {
      return { status: 0, body: '', headers: {}, timings: { duration: 0 } };
    }
    const [code, seconds] = out.trim().split(' ');
    const headers: Record<string, string> = {};
    const blocks = readFileSync(join(dir, 'headers'), 'utf8').split(/\r?\n\r?\n/).filter((b) => b.trim());
    for (const line of (blocks[blocks.length - 1] ?? '').split(/\r?\n/).slice(1)) {
      const at = line.indexOf(':');
      if (at > 0) headers[canonical(line.slice(0, at).trim())] = line.slice(at + 1).trim();
    }
    let body = '';
    try {
      body = readFileSync(join(dir, 'body'), 'utf8');
    } catch {
      body = '';
    }
    return { status: Number(code), body, headers, timings: { duration: Number(seconds) * 1000 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A blocking sleep, as k6's sleep() is. */
export function sleepSync(seconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, seconds * 1000));
}
