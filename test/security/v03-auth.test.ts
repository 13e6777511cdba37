/**
 * v0.3 clients (the SDK's compat transports) are authenticated like v1.0 ones: JSON-RPC and
 * gRPC without a credential are refused, with one they are served, and the agent's scopes
 * hold for them too.
 */
import { TaskState } from '@a2a-js/sdk';
import { LegacyJsonRpcTransport } from '@a2a-js/sdk/compat/v0_3/client';
import { LegacyGrpcTransport } from '@a2a-js/sdk/compat/v0_3/client/grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTransport } from '../helpers/grpc.js';
import { asTask, messageRequest } from '../helpers/interop.js';
import { startServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer({
    agents: [
      { name: 'echo', kind: 'echo', default: true, scopes: ['echo:use'] },
      { name: 'countdown', kind: 'countdown', stepMs: 20 },
    ],
    auth: {
      apiKeys: [
        { key: 'member-key', principal: 'member', scopes: ['echo:use'] },
        { key: 'guest-key', principal: 'guest', scopes: [] },
      ],
    },
  });
});
afterAll(() => t?.close());

const withKey = (key: string) => ({ serviceParameters: { 'x-api-key': key } });

describe('v0.3 JSON-RPC', () => {
  const transport = (): LegacyJsonRpcTransport =>
    new LegacyJsonRpcTransport({ endpoint: t.agentUrl('echo') });
  it('without a key → UNAUTHENTICATED', async () => {
    await expect(transport().sendMessage(messageRequest('hi'))).rejects.toThrow(/Authentication required/);
  });
  it('with a key lacking the agent scope → PERMISSION_DENIED', async () => {
    await expect(transport().sendMessage(messageRequest('hi'), withKey('guest-key'))).rejects.toThrow(
      /echo:use/,
    );
  });
  it('with a member key → served', async () => {
    const task = asTask(await transport().sendMessage(messageRequest('hi v0.3'), withKey('member-key')));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });
});

describe('v0.3 gRPC', () => {
  let legacy: LegacyGrpcTransport;
  beforeAll(() => {
    legacy = new LegacyGrpcTransport({ endpoint: t.server.grpcAddress as string });
  });
  afterAll(() => closeTransport(legacy));
  it('without a key → UNAUTHENTICATED', async () => {
    await expect(legacy.sendMessage(messageRequest('hi'))).rejects.toThrow(/Authentication required/);
  });
  it('with a key lacking the agent scope → PERMISSION_DENIED', async () => {
    await expect(legacy.sendMessage(messageRequest('hi'), withKey('guest-key'))).rejects.toThrow(/echo:use/);
  });
  it('with a member key → served', async () => {
    const task = asTask(await legacy.sendMessage(messageRequest('hi v0.3 grpc'), withKey('member-key')));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });
});
