/**
 * Reference A2A JSON-RPC server built only from the stock path of the official
 * SDK (`@a2a-js/sdk`): `DefaultRequestHandler` + `InMemoryTaskStore` behind
 * express 5 with `jsonRpcHandler` and `agentCardHandler`.
 *
 * It hosts one agent (see ./common.ts): `echo` mirrors agentd's `echo` agent,
 * `chunks` is the benchmark's streaming agent (bench/agents/chunks-agent.ts).
 *
 * Usage: `sdk-jsonrpc-server --port N [--agent echo|chunks]` (0 picks a free
 * port). Serves JSON-RPC at `/` and prints `LISTENING <port>` on stdout once
 * the socket is bound.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { UserBuilder, agentCardHandler, jsonRpcHandler } from '@a2a-js/sdk/server/express';
import { onShutdown, REFERENCE_AGENTS, referenceArgs, referenceCard } from './common.js';

const { port, agent } = referenceArgs();

const app = express();
const server = app.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address() as AddressInfo;
  const card = referenceCard(agent, `http://127.0.0.1:${bound}/`, 'JSONRPC');
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), REFERENCE_AGENTS[agent].executor);
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
  app.use('/', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
  process.stdout.write(`LISTENING ${bound}\n`);
});

onShutdown(() => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
