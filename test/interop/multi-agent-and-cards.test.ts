import { AgentCard, TaskState } from '@a2a-js/sdk';
import { ClientFactory } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS_WITH_EXTENDED_CARD,
  TRANSPORTS,
  artifactText,
  asTask,
  expectSdkError,
  messageRequest,
  rejection,
} from '../helpers/interop.js';
import { SuiteClients } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface DirectoryEntry {
  name: string;
  default: boolean;
  cardUrl: string;
  jsonRpcUrl: string;
  restUrl: string;
}

describe('agent directory and cards', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ agents: AGENTS_WITH_EXTENDED_CARD });
  });
  afterAll(() => t.close());

  it('GET /api/v1/agents lists every hosted agent with its card URL', async () => {
    const res = await fetch(`${t.url}/api/v1/agents`);
    expect(res.status).toBe(200);
    const { agents } = (await res.json()) as { agents: DirectoryEntry[] };
    expect(agents.map((a) => a.name)).toEqual(['echo', 'countdown', 'vip']);
    expect(agents.filter((a) => a.default).map((a) => a.name)).toEqual(['echo']);
    for (const a of agents) {
      expect(a.cardUrl).toBe(`${t.url}/a2a/${a.name}/.well-known/agent-card.json`);
      // Each card URL serves that agent's own card.
      const card = AgentCard.fromJSON(await (await fetch(a.cardUrl)).json());
      expect(card.name).toBe(a.name);
      expect(card.supportedInterfaces.map((i) => i.url)).toEqual(
        expect.arrayContaining([a.jsonRpcUrl, a.restUrl]),
      );
    }
  });

  it('serves the default agent card at /.well-known/agent-card.json', async () => {
    const res = await fetch(`${t.url}/.well-known/agent-card.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const card = AgentCard.fromJSON(await res.json());
    expect(card.name).toBe('echo');
    expect(card.supportedInterfaces.map((i) => i.protocolBinding)).toEqual(
      expect.arrayContaining(['JSONRPC', 'HTTP+JSON']),
    );
  });

  it('a client created from the server root talks to the default agent', async () => {
    const client = await new ClientFactory().createFromUrl(t.url);
    expect((await client.getAgentCard()).name).toBe('echo');
    const task = asTask(await client.sendMessage(messageRequest('via the root')));
    expect(artifactText(task, 'echo')).toBe('via the root');
  });
});

describe.each(TRANSPORTS)('multiple agents over %s', (transport) => {
  let t: TestServer;
  const clients = new SuiteClients(transport);
  beforeAll(async () => {
    t = await startServer({ agents: AGENTS_WITH_EXTENDED_CARD });
  });
  afterAll(async () => {
    clients.close();
    await t.close();
  });

  it.each(['echo', 'countdown', 'vip'])(
    '%s is reachable from its agent base URL and from its full card URL',
    async (name) => {
      const fromBase = await clients.for(t.agentUrl(name));
      const fromCard = await clients.for(`${t.url}/a2a/${name}/.well-known/agent-card.json`, '');
      for (const client of [fromBase, fromCard]) {
        const card = await client.getAgentCard();
        expect(card.name).toBe(name);
        const task = asTask(
          await client.sendMessage(messageRequest(name === 'countdown' ? 'count to 2' : `hello ${name}`)),
        );
        expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
        expect(task.artifacts.map((a) => a.artifactId)).toEqual([name === 'countdown' ? 'count' : 'echo']);
        // The task belongs to that agent alone.
        expect((await client.getTask({ tenant: '', id: task.id })).id).toBe(task.id);
        const other = await clients.for(t.agentUrl(name === 'echo' ? 'countdown' : 'echo'));
        expectSdkError(
          await rejection(other.getTask({ tenant: '', id: task.id })),
          transport,
          'TASK_NOT_FOUND',
        );
      }
    },
  );

  it('GetExtendedAgentCard returns the configured extended card', async () => {
    const client = await clients.for(t.agentUrl('vip'));
    const publicCard = AgentCard.fromJSON(
      await (await fetch(`${t.agentUrl('vip')}.well-known/agent-card.json`)).json(),
    );
    expect(publicCard.description).toBe('an echo with a private side');
    expect(publicCard.capabilities?.extendedAgentCard).toBe(true);
    expect((await client.getAgentCard()).capabilities?.extendedAgentCard).toBe(true);

    const extended = await client.transport.getExtendedAgentCard({ tenant: '' });
    expect(extended.name).toBe('vip');
    expect(extended.description).toBe('x');
    // The SDK client swaps in the extended card when the public card advertises one.
    expect((await client.getAgentCard()).description).toBe('x');
  });

  it('GetExtendedAgentCard without one configured is ExtendedAgentCardNotConfigured', async () => {
    const client = await clients.for(t.agentUrl('echo'));
    expect((await client.getAgentCard()).capabilities?.extendedAgentCard).toBe(false);
    const error = await rejection(client.transport.getExtendedAgentCard({ tenant: '' }));
    expectSdkError(error, transport, 'EXTENDED_AGENT_CARD_NOT_CONFIGURED');
  });
});
