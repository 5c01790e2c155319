// Runs nginx in the foreground as a child of this small Node process, which
// the harness starts like any other child (with the orphan guard preloaded):
// when the harness goes away the guard sends this process SIGTERM, and
// SIGTERM here stops nginx (fast shutdown) before exiting.
//
//   node nginx-child.ts <nginx binary> <prefix dir>
// The prefix dir holds nginx.conf; its pid file and error log go there too.

import { spawn } from 'node:child_process';
import { join } from 'node:path';

const [binary, prefix] = process.argv.slice(2);
if (!binary || !prefix) {
  console.error('usage: node nginx-child.ts <nginx binary> <prefix dir>');
  process.exit(2);
}

const nginx = spawn(binary, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = (): void => {
  if (nginx.exitCode === null && nginx.signalCode === null) nginx.kill('SIGTERM');
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
nginx.once('error', (error) => {
  console.error(`could not start ${binary}: ${error.message}`);
  process.exit(1);
});
nginx.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
