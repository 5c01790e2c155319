// Preloaded into every child the harness starts (`node --import`): the child's
// stdin is a pipe from the harness, so when the harness goes away for any
// reason (even SIGKILL) the pipe closes and the child stops instead of
// lingering as an orphan holding a port. It stops through its own SIGTERM
// handler (so the simulators remove their temporary files), or is exited
// after a grace period.

const GRACE_MS = 5000;

function stop(): void {
  setTimeout(() => process.exit(1), GRACE_MS).unref();
  process.kill(process.pid, 'SIGTERM');
}

process.stdin.once('end', stop);
process.stdin.once('error', stop);
process.stdin.resume();
// Reading stdin must not keep a child alive that would otherwise exit.
process.stdin.unref();
