/**
 * Reference A2A gRPC server built only from the stock path of the official SDK
 * (`@a2a-js/sdk`): `grpcService` over `DefaultRequestHandler` +
 * `InMemoryTaskStore`, added to a `@grpc/grpc-js` server with the SDK's
 * `A2AService` definition. Default grpc-js server options.
 *
 * It hosts one agent (see ./common.ts), the same executors as the JSON-RPC
 * reference. The SDK's service serves a single agent and ignores `tenant`.
 *
 * Usage: `sdk-grpc-server --port N [--agent echo|chunks]` (0 picks a free
 * port). Prints `LISTENING <port>` on stdout once the port is bound.
 */
import * as grpc from '@grpc/grpc-js';
import { DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { A2AService, UserBuilder, grpcService } from '@a2a-js/sdk/server/grpc';
import { onShutdown, REFERENCE_AGENTS, referenceArgs, referenceCard } from './common.js';

const { port, agent } = referenceArgs();

const server = new grpc.Server();
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    console.error(`cannot bind 127.0.0.1:${port}: ${error.message}`);
    process.exit(1);
  }
  const card = referenceCard(agent, `127.0.0.1:${bound}`, 'GRPC');
  const requestHandler = new DefaultRequestHandler(
    card,
    new InMemoryTaskStore(),
    REFERENCE_AGENTS[agent].executor,
  );
  server.addService(A2AService, grpcService({ requestHandler, userBuilder: UserBuilder.noAuthentication }));
  process.stdout.write(`LISTENING ${bound}\n`);
});

onShutdown(() => {
  server.tryShutdown(() => process.exit(0));
  setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 2_000).unref();
});
