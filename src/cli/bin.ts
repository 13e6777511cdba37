/**
 * Process entry for the `agentd` command: runs the CLI, and for `serve` installs the
 * graceful-shutdown handlers (SIGTERM/SIGINT → drain → exit 0; a second signal forces exit 1).
 */
import { activeServer, runCli } from './main.js';

// Output piped into a reader that stops early (`agentd tasks list … | head`): the reader
// has what it wanted, so a command ends quietly instead of crashing on the broken pipe. A
// running server whose log reader went away keeps serving (its logs are lost).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (!activeServer) process.exit(process.exitCode ?? 0);
  });
}

const code = await runCli(process.argv.slice(2));
const server = activeServer;
if (!server) {
  process.exitCode = code;
  // A command that failed may leave handles behind (a server that could not start, a client
  // socket): the process ends on its own once output is flushed, or at the latest here.
  if (code !== 0) setTimeout(() => process.exit(code), 2000).unref();
} else {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      server.logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    server.logger.info({ signal }, 'shutting down: draining in-flight tasks');
    server.shutdown().then(
      () => {
        server.logger.info('shutdown complete');
        server.logger.flush?.();
        process.exit(0);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
