/**
 * agentd and real A2A v0.3 peers, both ways, with the 0.3 SDK from npm (`a2a-sdk-v03`, an
 * alias of `@a2a-js/sdk@0.3.x`): v0.3 SDK clients discover agentd from a card URL alone and
 * use it over JSON-RPC, HTTP+JSON and gRPC; agentd agents call v0.3 SDK servers with
 * `callAgent`; and agentd's card fetches ask for v1.0.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import express from 'express';
import type {
  AgentCard as V03AgentCard,
  Message as V03Message,
  MessageSendParams,
  Task as V03Task,
} from 'a2a-sdk-v03';
import {
  A2AClient,
  ClientFactory,
  ClientFactoryOptions,
  JsonRpcTransport,
  RestTransport,
  type Client,
} from 'a2a-sdk-v03/client';
import { GrpcTransport } from 'a2a-sdk-v03/client/grpc';
import {
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from 'a2a-sdk-v03/server';
import { A2AExpressApp, restHandler, UserBuilder } from 'a2a-sdk-v03/server/express';
import { AgentCard } from '@a2a-js/sdk';
import { agentCardHandler } from '@a2a-js/sdk/server/express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchCard } from '../../src/client/connect.js';
import { DEMO_AGENTS, startServer, type TestServer } from '../helpers/server.js';
import { messageJson, rpc } from '../helpers/wire.js';

function v03Message(text: string, configuration?: MessageSendParams['configuration']): MessageSendParams {
  return {
    message: { kind: 'message', role: 'user', messageId: randomUUID(), parts: [{ kind: 'text', text }] },
    ...(configuration ? { configuration } : {}),
  };
}

function asV03Task(result: V03Message | V03Task): V03Task {
  if (result.kind !== 'task') throw new Error(`expected a task, got ${JSON.stringify(result)}`);
  return result;
}

function artifactText(task: V03Task): string {
  return (task.artifacts ?? [])
    .flatMap((a) => a.parts)
    .map((p) => (p.kind === 'text' ? p.text : ''))
    .join('');
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server | undefined): Promise<void> {
  return new Promise((done) => (server ? server.close(() => done()) : done()));
}

/** A v0.3 SDK client made the way v0.3 users make one: from the card URL alone. */
function v03Client(cardUrl: string, transport: 'JSONRPC' | 'HTTP+JSON'): Promise<Client> {
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { preferredTransports: [transport] }),
  );
  return factory.createFromUrl(cardUrl, '');
}

describe('v0.3 SDK clients discover and use agentd', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      agents: [DEMO_AGENTS[0], { name: 'countdown', kind: 'countdown', stepMs: 20 }],
    });
  });
  afterAll(() => t.close());

  const cardUrl = (agent: string): string => `${t.agentUrl(agent)}.well-known/agent-card.json`;

  it('a card fetched without A2A-Version is a v0.3 card that is still a v1.0 card', async () => {
    const res = await fetch(cardUrl('echo'));
    expect(res.headers.get('vary')).toMatch(/A2A-Version/i);
    const card = (await res.json()) as V03AgentCard & { supportedInterfaces: unknown[] };
    expect(card.url).toBe(t.agentUrl('echo'));
    expect(card.preferredTransport).toBe('JSONRPC');
    expect(card.protocolVersion).toMatch(/^0\.3/);
    // echo is the default agent: v0.3 gRPC (no tenant) reaches it, so its card lists gRPC too.
    expect(card.additionalInterfaces).toEqual([
      { url: `${t.agentUrl('echo')}rest`, transport: 'HTTP+JSON' },
      { url: t.server.grpcAddress, transport: 'GRPC' },
    ]);
    // What the v0.3 schema requires, skills' descriptions included.
    for (const field of ['name', 'description', 'version', 'capabilities', 'defaultInputModes'] as const) {
      expect(card[field]).toBeDefined();
    }
    expect(card.skills.map((s) => typeof s.description)).toEqual(['string']);

    // A v1.0 client reads the same card from this body as from the v1.0 one.
    const v1Res = await fetch(cardUrl('echo'), { headers: { 'A2A-Version': '1.0' } });
    const v1 = (await v1Res.json()) as Record<string, unknown>;
    expect(v1).not.toHaveProperty('url');
    expect(v1).not.toHaveProperty('preferredTransport');
    expect(AgentCard.fromJSON(card)).toEqual(AgentCard.fromJSON(v1));
    expect(AgentCard.fromJSON(card).capabilities?.extendedAgentCard).toBe(false);
  });

  it("A2AClient.fromCardUrl on the server's card sends a message to the default agent", async () => {
    const client = await A2AClient.fromCardUrl(`${t.url}/.well-known/agent-card.json`);
    const res = await client.sendMessage(v03Message('hello from A2AClient 0.3'));
    if (!('result' in res)) throw new Error(JSON.stringify(res.error));
    const task = asV03Task(res.result);
    expect(task.status.state).toBe('completed');
    expect(artifactText(task)).toBe('hello from A2AClient 0.3');
  });

  for (const transport of ['JSONRPC', 'HTTP+JSON'] as const) {
    describe(`over ${transport}`, () => {
      it('picks the transport from the card and sends a message, then gets the task', async () => {
        const client = await v03Client(cardUrl('echo'), transport);
        expect(client.transport).toBeInstanceOf(transport === 'JSONRPC' ? JsonRpcTransport : RestTransport);
        const task = asV03Task(await client.sendMessage(v03Message(`hello over ${transport}`)));
        expect(task.status.state).toBe('completed');
        expect(artifactText(task)).toBe(`hello over ${transport}`);
        const again = await client.getTask({ id: task.id });
        expect(again.id).toBe(task.id);
        expect(again.status.state).toBe('completed');
        expect(again.history?.some((m) => m.parts.some((p) => p.kind === 'text'))).toBe(true);
      });

      it('streams a countdown: the task, its chunks in order, and a final completed status', async () => {
        const client = await v03Client(cardUrl('countdown'), transport);
        const events = await collect(client.sendMessageStream(v03Message('count to 3')));
        expect(events[0]?.kind).toBe('task');
        const chunks = events.flatMap((e) =>
          e.kind === 'artifact-update' ? e.artifact.parts.map((p) => (p.kind === 'text' ? p.text : '')) : [],
        );
        expect(chunks.join('')).toContain('1');
        expect(chunks.join('')).toContain('3');
        const last = events[events.length - 1];
        expect(last?.kind === 'status-update' && last.final && last.status.state).toBe('completed');
      });

      it('cancels a running task', async () => {
        const client = await v03Client(cardUrl('countdown'), transport);
        const started = asV03Task(await client.sendMessage(v03Message('count to 500', { blocking: false })));
        expect(['submitted', 'working']).toContain(started.status.state);
        const canceled = await client.cancelTask({ id: started.id });
        expect(canceled.status.state).toBe('canceled');
        expect((await client.getTask({ id: started.id })).status.state).toBe('canceled');
      });

      it('an unknown task is an error the v0.3 client understands', async () => {
        const client = await v03Client(cardUrl('echo'), transport);
        await expect(client.getTask({ id: 'no-such-task' })).rejects.toThrow(/not found/i);
      });
    });
  }

  it('a v0.3 REST request with A2A-Version: 1.0 is v1.0: "v1" is then a tenant', async () => {
    const body = JSON.stringify({ message: messageJson('to tenant v1') });
    const headers = { 'content-type': 'application/json' };
    const v1 = await fetch(`${t.agentUrl('echo')}rest/v1/message:send`, {
      method: 'POST',
      headers: { ...headers, 'A2A-Version': '1.0' },
      body,
    });
    expect(v1.status).toBe(200);
    const json = (await v1.json()) as { task: { id: string; status: { state: string } } };
    expect(json.task.status.state).toBe('TASK_STATE_COMPLETED');
    // The task lives in tenant "v1": found there, not in the default tenant.
    const inTenant = await fetch(`${t.agentUrl('echo')}rest/v1/tasks/${json.task.id}`, {
      headers: { 'A2A-Version': '1.0' },
    });
    expect(inTenant.status).toBe(200);
    const outside = await fetch(`${t.agentUrl('echo')}rest/tasks/${json.task.id}`, {
      headers: { 'A2A-Version': '1.0' },
    });
    expect(outside.status).toBe(404);
  });
});

describe('a v0.3 SDK gRPC client (GrpcTransport; v0.3 gRPC has no tenant, so it reaches the default agent)', () => {
  let t: TestServer;
  let grpc: GrpcTransport;
  beforeAll(async () => {
    t = await startServer({
      agents: [
        { name: 'countdown', kind: 'countdown', stepMs: 20, default: true },
        { name: 'echo', kind: 'echo' },
      ],
    });
    grpc = new GrpcTransport({ endpoint: t.server.grpcAddress as string });
  });
  afterAll(async () => {
    (grpc as unknown as { grpcClient: { close(): void } }).grpcClient.close();
    await t.close();
  });

  it("finds gRPC on the default agent's card, and only there", async () => {
    type V03Card = { additionalInterfaces?: Array<{ transport: string; url: string }> };
    const card = (await (await fetch(`${t.url}/.well-known/agent-card.json`)).json()) as V03Card;
    expect(card.additionalInterfaces).toContainEqual({ transport: 'GRPC', url: t.server.grpcAddress });
    const other = (await (await fetch(`${t.agentUrl('echo')}.well-known/agent-card.json`)).json()) as V03Card;
    expect(other.additionalInterfaces?.map((i) => i.transport)).not.toContain('GRPC');
  });

  it('sends a message and gets the task', async () => {
    const task = asV03Task(await grpc.sendMessage(v03Message('count to 2')));
    expect(task.status.state).toBe('completed');
    expect(artifactText(task)).toContain('2');
    expect((await grpc.getTask({ id: task.id })).status.state).toBe('completed');
  });

  it('streams to a final completed status', async () => {
    const events = await collect(grpc.sendMessageStream(v03Message('count to 3')));
    expect(events[0]?.kind).toBe('task');
    const last = events[events.length - 1];
    expect(last?.kind === 'status-update' && last.final && last.status.state).toBe('completed');
  });

  it('cancels a running task', async () => {
    const started = asV03Task(await grpc.sendMessage(v03Message('count to 500', { blocking: false })));
    expect((await grpc.cancelTask({ id: started.id })).status.state).toBe('canceled');
  });
});

/** A tiny v0.3 agent on the 0.3 SDK's express server: answers "v0.3 heard: <text>". */
class V03Executor implements AgentExecutor {
  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const said = ctx.userMessage.parts.map((p) => (p.kind === 'text' ? p.text : '')).join('');
    bus.publish({
      kind: 'message',
      role: 'agent',
      messageId: randomUUID(),
      contextId: ctx.contextId,
      parts: [{ kind: 'text', text: `v0.3 heard: ${said}` }],
    });
    bus.finished();
  }
  async cancelTask(): Promise<void> {}
}

describe('agentd callAgent to a v0.3 SDK server', () => {
  let t: TestServer;
  let peer: Server;
  let peerUrl: string;
  const cardVersions: Array<string | undefined> = [];
  const calls: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.use((req, _res, next) => {
      if (req.path.endsWith('agent-card.json')) cardVersions.push(req.header('A2A-Version'));
      else calls.push(`${req.method} ${req.path}`);
      next();
    });
    peer = createServer(app);
    peerUrl = await listen(peer);
    const card: V03AgentCard = {
      name: 'v03-peer',
      description: 'an agent on @a2a-js/sdk 0.3',
      version: '0.3.14',
      protocolVersion: '0.3.0',
      url: `${peerUrl}/`,
      preferredTransport: 'JSONRPC',
      additionalInterfaces: [
        { url: `${peerUrl}/`, transport: 'JSONRPC' },
        { url: `${peerUrl}/rest`, transport: 'HTTP+JSON' },
      ],
      capabilities: { streaming: true },
      defaultInputModes: ['text/plain'],
      defaultOutputModes: ['text/plain'],
      skills: [],
    };
    const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), new V03Executor());
    app.use('/rest', restHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
    new A2AExpressApp(handler).setupRoutes(app);

    const relay = resolve(import.meta.dirname, '../fixtures/relay-agent.mjs');
    t = await startServer({
      agents: [{ name: 'relay', kind: 'module', module: relay, export: 'RelayAgent', default: true }],
    });
  });
  afterAll(async () => {
    await t.close();
    await close(peer);
  });

  for (const [command, binding, call] of [
    ['relay', 'JSON-RPC', 'POST /'],
    ['relay-rest', 'HTTP+JSON', 'POST /rest/v1/message:send'],
  ] as const) {
    it(`reaches it over v0.3 ${binding} and completes with its answer`, async () => {
      calls.length = 0;
      const res = await rpc(t.url, 'relay', 'SendMessage', {
        message: messageJson(`${command} ${peerUrl}/ hello from agentd`),
      });
      const task = (
        res.json as {
          result: {
            task: { status: { state: string }; artifacts: Array<{ parts: Array<{ text: string }> }> };
          };
        }
      ).result.task;
      expect(task.status.state).toBe('TASK_STATE_COMPLETED');
      expect(task.artifacts[0]?.parts[0]?.text).toBe('v0.3 heard: hello from agentd');
      // The card was fetched asking for v1.0 (A2A §3.6.1), and the 0.3 server's card still read;
      // once for both bindings (it is cached for its max-age).
      expect(cardVersions).toEqual(['1.0']);
      expect(calls).toEqual([call]);
    });
  }
});

describe('outbound card fetches ask for v1.0', () => {
  let sdkServer: Server;
  let url: string;
  const seen: Array<string | undefined> = [];

  beforeAll(async () => {
    // An @a2a-js/sdk 1.x server with v0.3 compatibility: without a version it serves its
    // v0.3-compatible card, which has no `capabilities.extendedAgentCard`.
    const app = express();
    app.use((req, _res, next) => {
      seen.push(req.header('A2A-Version'));
      next();
    });
    app.get('/incomplete/.well-known/agent-card.json', (_req, res) => {
      res.json({ name: 'incomplete', url: 'http://127.0.0.1:1/', protocolVersion: '0.3.0' });
    });
    app.use(
      '/.well-known/agent-card.json',
      agentCardHandler({
        legacyCompat: { enabled: true },
        agentCardProvider: async () => ({
          name: 'sdk-1x',
          description: 'an agent on @a2a-js/sdk 1.x',
          version: '1.0.0',
          supportedInterfaces: [
            { url: 'http://127.0.0.1:1/a2a', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
            { url: 'http://127.0.0.1:1/a2a', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '0.3' },
          ],
          provider: undefined,
          documentationUrl: undefined,
          capabilities: {
            streaming: true,
            pushNotifications: false,
            extensions: [{ uri: 'urn:example:ext', description: '', required: false, params: undefined }],
            extendedAgentCard: true,
          },
          securitySchemes: {},
          securityRequirements: [],
          defaultInputModes: ['text/plain'],
          defaultOutputModes: ['text/plain'],
          skills: [],
          signatures: [],
          iconUrl: undefined,
        }),
      }),
    );
    sdkServer = createServer(app);
    url = await listen(sdkServer);
  });
  afterAll(() => close(sdkServer));

  it('so agentd (the CLI, callAgent) sees v1.0 fields of an SDK 1.x card', async () => {
    const { card } = await fetchCard(url);
    expect(seen).toEqual(['1.0']);
    expect(card.capabilities?.extendedAgentCard).toBe(true);
    expect(card.capabilities?.extensions.map((e) => e.uri)).toEqual(['urn:example:ext']);
    // Without the header the same server hides them (what agentd used to read).
    const legacy = (await (await fetch(`${url}/.well-known/agent-card.json`)).json()) as Record<
      string,
      unknown
    >;
    expect(legacy).not.toHaveProperty('capabilities.extendedAgentCard');
  });

  it('an incomplete v0.3 card is refused with a reason, not a crash', async () => {
    await expect(fetchCard(`${url}/incomplete/`)).rejects.toThrow(
      /is not a valid A2A v0\.3 agent card: .*capabilities/,
    );
  });
});
