// Shared helpers for the simulator tests.
import { connect } from 'node:net';

export interface JsonResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export async function http<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal ?? AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
}

export const putFaults = (adminUrl: string, body: unknown): Promise<JsonResponse<Record<string, unknown>>> =>
  http(`${adminUrl}/_sim/faults`, { method: 'PUT', body });

/** The error code of a plain TCP connect to the URL's port, or 'connected'. */
export function tcpConnect(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A binary STL with `triangles` triangles (header starts with "solid" to be tricky). */
export function binaryStl(triangles: number): Buffer {
  const buf = Buffer.alloc(84 + 50 * triangles);
  buf.write('solid binary header that is not ascii', 0, 'latin1');
  buf.writeUInt32LE(triangles, 80);
  for (let t = 0; t < triangles; t++) {
    const at = 84 + 50 * t;
    for (let v = 0; v < 12; v++) buf.writeFloatLE(t + v * 0.5, at + v * 4);
  }
  return buf;
}

export function asciiStl(triangles: number): Buffer {
  let out = 'solid ring\n';
  for (let t = 0; t < triangles; t++) {
    out += `  facet normal 0 0 1\n    outer loop\n      vertex ${t} 0 0\n      vertex 0 ${t} 0\n      vertex 0 0 ${t}\n    endloop\n  endfacet\n`;
  }
  return Buffer.from(`${out}endsolid ring\n`, 'latin1');
}

export function obj(faces: number): Buffer {
  let out = '# a pendant\no pendant\n';
  for (let i = 0; i < faces + 2; i++) out += `v ${i} ${i * 2} ${i * 3}\n`;
  for (let i = 1; i <= faces; i++) out += `f ${i} ${i + 1} ${i + 2}\n`;
  return Buffer.from(out, 'latin1');
}
