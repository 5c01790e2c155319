// Loaded with --import by `npm test`: a test file that runs longer than
// FACET_TEST_FILE_TIMEOUT_MS (default 10 min) prints what keeps it alive and
// exits 1, so one hung file fails the run in minutes instead of eating CI's
// whole time budget. --test-timeout alone reports a hung test but leaves the
// process running while a socket or child keeps its event loop alive.

const DEFAULT_FILE_TIMEOUT_MS = 10 * 60_000;

// Only the per-file child processes the runner spawns, never the runner itself.
if (process.env.NODE_TEST_CONTEXT) {
  const limitMs = Number(process.env.FACET_TEST_FILE_TIMEOUT_MS) || DEFAULT_FILE_TIMEOUT_MS;
  setTimeout(() => {
    const file = process.argv.slice(1).find((a) => a.endsWith('.test.ts')) ?? process.argv.join(' ');
    process.stderr.write(`\nwatchdog: ${file} still running after ${limitMs} ms; alive: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
    process.exit(1);
  }, limitMs).unref();
}
