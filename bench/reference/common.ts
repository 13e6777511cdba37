/**
 * What the SDK reference servers share: their command line, the agents they
 * can host and the agent card they publish. Each reference process hosts one
 * agent, as the SDK's stock handlers serve a single agent.
 */
import { parseArgs } from 'node:util';
import type { AgentCard, AgentInterface } from '@a2a-js/sdk';
import type { AgentExecutor } from '@a2a-js/sdk/server';
import { chunksExecutor } from '../agents/chunks-agent.js';
import { echoExecutor } from '../agents/echo-agent.js';

/** The agents a reference server can host, by name. */
export const REFERENCE_AGENTS = {
  echo: { executor: echoExecutor, description: 'Echoes the input text back as an artifact.' },
  chunks: { executor: chunksExecutor, description: 'Streams "chunks N" artifact chunks.' },
} satisfies Record<string, { executor: AgentExecutor; description: string }>;

/** Name of a hostable agent. */
export type ReferenceAgentName = keyof typeof REFERENCE_AGENTS;

/** The parsed command line of a reference server. */
export interface ReferenceArgs {
  port: number;
  agent: ReferenceAgentName;
}

function isAgentName(name: string): name is ReferenceAgentName {
  return Object.hasOwn(REFERENCE_AGENTS, name);
}

/**
 * Parses `--port N` (0 picks a free port) and `--agent echo|chunks` (default
 * `echo`); prints the problem and exits with status 2 when they are invalid.
 */
export function referenceArgs(): ReferenceArgs {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, agent: { type: 'string', default: 'echo' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${values.port}`);
    process.exit(2);
  }
  if (!isAgentName(values.agent)) {
    console.error(`invalid --agent ${values.agent} (one of: ${Object.keys(REFERENCE_AGENTS).join(', ')})`);
    process.exit(2);
  }
  return { port, agent: values.agent };
}

/** The card of `agent`, served at `url` over `protocolBinding` (A2A v1.0, no tenant). */
export function referenceCard(
  agent: ReferenceAgentName,
  url: string,
  protocolBinding: AgentInterface['protocolBinding'],
): AgentCard {
  return {
    name: agent,
    description: REFERENCE_AGENTS[agent].description,
    supportedInterfaces: [{ url, protocolBinding, tenant: '', protocolVersion: '1.0' }],
    provider: undefined,
    version: '1.0.0',
    capabilities: { streaming: true, pushNotifications: false, extensions: [] },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [
      {
        id: agent,
        name: agent,
        description: REFERENCE_AGENTS[agent].description,
        tags: [agent],
        examples: [],
        inputModes: [],
        outputModes: [],
        securityRequirements: [],
      },
    ],
    signatures: [],
  };
}

/** Runs `close` once on SIGTERM or SIGINT; `close` must end the process. */
export function onShutdown(close: () => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, close);
}
