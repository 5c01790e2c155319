// Container health check: `node deploy/probe.ts http://127.0.0.1:8080/readyz`.
// The slim Node image has no curl or wget, so the check uses Node's fetch.
// Exit 0 on a 2xx answer within the timeout, 1 otherwise.

const url = process.argv[2];
const timeoutMs = Number(process.env.PROBE_TIMEOUT_MS || 3000);

if (!url) {
  console.error('usage: node deploy/probe.ts URL');
  process.exit(2);
}

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`probe ${url}: ${(error as Error).message}`);
  process.exit(1);
}
