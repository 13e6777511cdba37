/**
 * Several agents behind one gRPC port, told apart by the `tenant` their cards advertise;
 * the `server.transport` switch (`grpc` / `http`); and v0.3 gRPC clients through the SDK's
 * compat transport.
 */
import { AgentCard, TaskState } from '@a2a-js/sdk';
import type { SendMessageRequest, StreamResponse, Task } from '@a2a-js/sdk';
import { ClientFactory, type Client } from '@a2a-js/sdk/client';
import { TaskNotFoundError } from '@a2a-js/sdk/errors';
import { LegacyGrpcTransport } from '@a2a-js/sdk/compat/v0_3/client/grpc';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawGrpcClient, closeSdkClient, closeTransport, expectGrpcError } from '../helpers/grpc.js';
import { artifactText, asTask, collect, messageRequest, stateOf } from '../helpers/interop.js';
import { clientFor } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { restUrl, rpc, rpcUrl } from '../helpers/wire.js';

async function cardOf(t: TestServer, agent: string): Promise<AgentCard> {
  const res = await fetch(`${t.agentUrl(agent)}.well-known/agent-card.json`);
  expect(res.status).toBe(200);
  return AgentCard.fromJSON(await res.json());
}

function send(tenant: string, text: string): SendMessageRequest {
  return { ...messageRequest(text), tenant };
}

function taskOf(response: { payload?: { $case: string; value: unknown } }): Task {
  if (response.payload?.$case !== 'task') throw new Error(`expected a Task, got ${JSON.stringify(response)}`);
  return response.payload.value as Task;
}

const getTask = (tenant: string, id: string): { tenant: string; id: string; historyLength: undefined } => ({
  tenant,
  id,
  historyLength: undefined,
});

describe('two agents on one gRPC port', () => {
  let t: TestServer;
  let raw: RawGrpcClient;
  const clients: Client[] = [];
  const grpcClient = async (agent: string): Promise<Client> => {
    const c = await clientFor(t.agentUrl(agent), 'GRPC');
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    t = await startServer();
    raw = new RawGrpcClient(t.server.grpcAddress as string);
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) closeSdkClient(c);
    raw.close();
    await t.close();
  });

  it('each card lists exactly one GRPC interface: the shared address, with the agent name as tenant', async () => {
    expect(t.server.grpcAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    for (const agent of ['echo', 'countdown']) {
      const card = await cardOf(t, agent);
      const grpcInterfaces = card.supportedInterfaces.filter((i) => i.protocolBinding === 'GRPC');
      const v1 = {
        url: t.server.grpcAddress,
        protocolBinding: 'GRPC',
        tenant: agent,
        protocolVersion: '1.0',
      };
      // v0.3 gRPC has no tenant: only the default agent (echo) is listed for v0.3 clients.
      expect(grpcInterfaces).toEqual(agent === 'echo' ? [v1, { ...v1, protocolVersion: '0.3' }] : [v1]);
      // The HTTP interfaces stay, without a tenant.
      expect(
        card.supportedInterfaces.filter((i) => i.protocolBinding !== 'GRPC').every((i) => i.tenant === ''),
      ).toBe(true);
    }
  });

  it.each([
    ['echo', 'hello echo', 'echo', 'hello echo'],
    ['countdown', 'count to 2', 'count', '1\n2\n'],
  ])(
    '%s is reached over gRPC from its own card, and its tasks are its own',
    async (agent, text, artifactId, out) => {
      const client = await grpcClient(agent);
      expect(client.transport.protocolName).toBe('GRPC');
      const task = asTask(await client.sendMessage(messageRequest(text)));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(task.artifacts.map((a) => a.artifactId)).toEqual([artifactId]);
      expect(artifactText(task, artifactId)).toBe(out);
      expect((await client.getTask({ tenant: '', id: task.id })).id).toBe(task.id);

      const other = await grpcClient(agent === 'echo' ? 'countdown' : 'echo');
      await expect(other.getTask({ tenant: '', id: task.id })).rejects.toBeInstanceOf(TaskNotFoundError);
    },
  );

  it('an empty tenant reaches the default agent', async () => {
    const task = taskOf(await raw.unary('sendMessage', send('', 'to whoever is default')));
    expect(task.artifacts.map((a) => a.artifactId)).toEqual(['echo']);
    expect(artifactText(task, 'echo')).toBe('to whoever is default');
    // It is echo's task: found with an empty tenant and with "echo", not with "countdown".
    expect((await raw.unary('getTask', getTask('', task.id))).id).toBe(task.id);
    expect((await raw.unary('getTask', getTask('echo', task.id))).id).toBe(task.id);
    expectGrpcError(await raw.unaryError('getTask', getTask('countdown', task.id)), {
      code: grpc.status.NOT_FOUND,
      reason: 'TASK_NOT_FOUND',
      messageIncludes: [task.id],
    });
  });

  it('"<agent>/<tenant>" addresses a tenant of that agent, whose tasks the others do not see', async () => {
    const task = taskOf(await raw.unary('sendMessage', send('echo/acme', 'for acme only')));
    expect(artifactText(task, 'echo')).toBe('for acme only');
    expect((await raw.unary('getTask', getTask('echo/acme', task.id))).id).toBe(task.id);
    for (const tenant of ['echo', 'echo/other', '']) {
      expectGrpcError(await raw.unaryError('getTask', getTask(tenant, task.id)), {
        code: grpc.status.NOT_FOUND,
        reason: 'TASK_NOT_FOUND',
      });
    }
  });
});

describe('an agent marked default: true', () => {
  let t: TestServer;
  let raw: RawGrpcClient;
  beforeAll(async () => {
    t = await startServer({
      agents: [
        { name: 'echo', kind: 'echo' },
        { name: 'countdown', kind: 'countdown', stepMs: 20, default: true },
      ],
    });
    raw = new RawGrpcClient(t.server.grpcAddress as string);
  });
  afterAll(async () => {
    raw.close();
    await t.close();
  });

  it('is the one an empty tenant reaches, even when it is not listed first', async () => {
    const task = taskOf(await raw.unary('sendMessage', send('', 'count to 2')));
    expect(artifactText(task, 'count')).toBe('1\n2\n');
  });
});

describe("server.transport: 'grpc'", () => {
  let t: TestServer;
  let client: Client;
  beforeAll(async () => {
    t = await startServer({ server: { transport: 'grpc' } });
    client = await clientFor(t.agentUrl('countdown'), 'GRPC');
  });
  afterAll(async () => {
    closeSdkClient(client);
    await t.close();
  });

  it('cards list only the GRPC interface', async () => {
    for (const agent of ['echo', 'countdown']) {
      const card = await cardOf(t, agent);
      const v1 = {
        url: t.server.grpcAddress,
        protocolBinding: 'GRPC',
        tenant: agent,
        protocolVersion: '1.0',
      };
      expect(card.supportedInterfaces).toEqual(
        agent === 'echo' ? [v1, { ...v1, protocolVersion: '0.3' }] : [v1],
      );
    }
    const root = AgentCard.fromJSON(await (await fetch(`${t.url}/.well-known/agent-card.json`)).json());
    expect(root.supportedInterfaces.map((i) => `${i.protocolBinding} ${i.protocolVersion}`)).toEqual([
      'GRPC 1.0',
      'GRPC 0.3',
    ]);
  });

  it('JSON-RPC and REST routes are gone (404); cards, /health and /ready still answer', async () => {
    const jsonRpc = await rpc(t.url, 'echo', 'ListTasks', {});
    expect(jsonRpc.status).toBe(404);
    expect((await fetch(`${restUrl(t.url, 'echo')}/tasks`)).status).toBe(404);
    const restSend = await fetch(`${restUrl(t.url, 'echo')}/message:send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'x' }] } }),
    });
    expect(restSend.status).toBe(404);
    expect((await fetch(rpcUrl(t.url, 'echo'), { method: 'POST', body: '{}' })).status).toBe(404);

    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    expect((await fetch(`${t.agentUrl('echo')}.well-known/agent-card.json`)).status).toBe(200);
  });

  it('the SDK client from the card works over gRPC; an HTTP-only client cannot be created', async () => {
    expect(client.transport.protocolName).toBe('GRPC');
    const events = await collect(client.sendMessageStream(messageRequest('count to 2')));
    expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    await expect(new ClientFactory().createFromUrl(t.agentUrl('echo'))).rejects.toThrow(
      /No compatible transport/,
    );
  });
});

describe("server.transport: 'http'", () => {
  let t: TestServer;
  let client: Client;
  beforeAll(async () => {
    t = await startServer({ server: { transport: 'http' } });
    client = await clientFor(t.agentUrl('echo'), 'GRPC');
  });
  afterAll(async () => {
    closeSdkClient(client);
    await t.close();
  });

  it('serves no gRPC: no GRPC interface on the cards, no gRPC address', async () => {
    expect(t.server.grpcAddress).toBeUndefined();
    for (const agent of ['echo', 'countdown']) {
      const bindings = (await cardOf(t, agent)).supportedInterfaces.map((i) => i.protocolBinding);
      expect(bindings).toContain('JSONRPC');
      expect(bindings).not.toContain('GRPC');
    }
  });

  it('a client that prefers gRPC falls back to what the card offers', async () => {
    expect(client.transport.protocolName).toBe('JSONRPC');
    const task = asTask(await client.sendMessage(messageRequest('over HTTP after all')));
    expect(artifactText(task, 'echo')).toBe('over HTTP after all');
  });
});

describe('v0.3 gRPC clients (the SDK compat LegacyGrpcTransport)', () => {
  let t: TestServer;
  let legacy: LegacyGrpcTransport;
  let raw: RawGrpcClient;
  beforeAll(async () => {
    t = await startServer();
    legacy = new LegacyGrpcTransport({ endpoint: t.server.grpcAddress as string });
    raw = new RawGrpcClient(t.server.grpcAddress as string);
  });
  afterAll(async () => {
    closeTransport(legacy);
    raw.close();
    await t.close();
  });

  it('SendMessage reaches the default agent, and the task is the same one on v1.0', async () => {
    expect(legacy.protocolVersion).toBe('0.3');
    const request = messageRequest('hello from 0.3 over gRPC');
    const task = asTask(await legacy.sendMessage(request));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task, 'echo')).toBe('hello from 0.3 over gRPC');
    expect(task.history.some((m) => m.messageId === request.message?.messageId)).toBe(true);

    expect((await legacy.getTask({ tenant: '', id: task.id })).status?.state).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );
    const v1 = await raw.unary('getTask', getTask('echo', task.id));
    expect(artifactText(v1, 'echo')).toBe('hello from 0.3 over gRPC');
  });

  it('streams to COMPLETED, and an unknown task is TaskNotFoundError', async () => {
    const events = await collect(legacy.sendMessageStream(messageRequest('streamed from 0.3')));
    expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    await expect(legacy.getTask({ tenant: '', id: 'no-such-task' })).rejects.toMatchObject({
      name: 'TaskNotFoundError',
    });
  });
});

describe('v0.3 gRPC clients when compatibility is off', () => {
  let t: TestServer;
  let legacy: LegacyGrpcTransport;
  beforeAll(async () => {
    t = await startServer({ server: { compatV03: false } });
    legacy = new LegacyGrpcTransport({ endpoint: t.server.grpcAddress as string });
  });
  afterAll(async () => {
    closeTransport(legacy);
    await t.close();
  });

  it('find no v0.3 service (UNIMPLEMENTED) instead of being misread as v1.0', async () => {
    await expect(legacy.sendMessage(messageRequest('hello'))).rejects.toMatchObject({
      transport: 'grpc',
      status: grpc.status.UNIMPLEMENTED,
    });
  });
});
