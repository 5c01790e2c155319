// Runs a native server (HAProxy) in the foreground as a child of this small
// Node process, which the harness starts like any other child (with the
// orphan guard preloaded): when the harness goes away the guard sends this
// process SIGTERM, and SIGTERM here stops the server before exiting.
//
//   node native-child.ts <binary> [arguments...]

import { spawn } from 'node:child_process';

const [binary, ...args] = process.argv.slice(2);
if (!binary) {
  console.error('usage: node native-child.ts <binary> [arguments...]');
  process.exit(2);
}

const server = spawn(binary, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = (): void => {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.once('error', (error) => {
  console.error(`could not start ${binary}: ${error.message}`);
  process.exit(1);
});
server.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
