/**
 * The SDK client over gRPC, for what the suites that run over every binding
 * (task-operations, streaming-and-resubscribe, push-notifications, multi-agent-and-cards)
 * do not cover: the card's GRPC interface and its tenant, and one engine behind both gRPC
 * and JSON-RPC, so a task started on one binding is seen on the other.
 */
import { StreamResponse, TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  artifactParts,
  asTask,
  collect,
  countTo,
  expectSdkError,
  firstTask,
  listRequest,
  messageRequest,
  rejection,
  stateOf,
} from '../helpers/interop.js';
import { SuiteClients, clientFor } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('the SDK client over gRPC', () => {
  let t: TestServer;
  let countdown: Client;
  const clients = new SuiteClients('GRPC');

  beforeAll(async () => {
    t = await startServer();
    countdown = await clients.for(t.agentUrl('countdown'));
  });
  afterAll(async () => {
    clients.close();
    await t.close();
  });

  it('is created from the card alone and speaks gRPC to the address on the card', async () => {
    expect(countdown.transport.protocolName).toBe('GRPC');
    const card = await countdown.getAgentCard();
    const grpcInterface = card.supportedInterfaces.find((i) => i.protocolBinding === 'GRPC');
    expect(grpcInterface).toMatchObject({
      url: t.server.grpcAddress,
      tenant: 'countdown',
      protocolVersion: '1.0',
    });
  });

  describe('one engine behind gRPC and JSON-RPC', () => {
    let jsonRpc: Client;
    beforeAll(async () => {
      jsonRpc = await clientFor(t.agentUrl('countdown'), 'JSONRPC');
      expect(jsonRpc.transport.protocolName).toBe('JSONRPC');
    });

    it('a task started over gRPC is followed, read and listed over JSON-RPC', async () => {
      const started = asTask(
        await countdown.sendMessage(
          messageRequest('count to 6', { returnImmediately: true, contextId: 'cross-grpc' }),
        ),
      );
      const events = await collect(jsonRpc.resubscribeTask({ tenant: '', id: started.id }));
      expect(firstTask(events).id).toBe(started.id);
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);

      const viaJsonRpc = await jsonRpc.getTask({ tenant: '', id: started.id });
      const viaGrpc = await countdown.getTask({ tenant: '', id: started.id });
      expect(viaJsonRpc).toEqual(viaGrpc);
      expect(artifactParts(viaJsonRpc, 'count')).toEqual(countTo(6));
      const listed = await jsonRpc.listTasks(listRequest({ contextId: 'cross-grpc' }));
      expect(listed.tasks.map((x) => x.id)).toEqual([started.id]);
    });

    it('a task started over JSON-RPC is continued over gRPC and read back over JSON-RPC', async () => {
      const waiting = asTask(await jsonRpc.sendMessage(messageRequest('count to 4 and ask')));
      expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
      expect((await countdown.getTask({ tenant: '', id: waiting.id })).status?.state).toBe(
        TaskState.TASK_STATE_INPUT_REQUIRED,
      );

      const done = asTask(await countdown.sendMessage(messageRequest('go on', { taskId: waiting.id })));
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      const viaJsonRpc = await jsonRpc.getTask({ tenant: '', id: waiting.id });
      expect(viaJsonRpc.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactParts(viaJsonRpc, 'count')).toEqual(countTo(4));
      const error = await rejection(
        countdown.cancelTask({ tenant: '', id: waiting.id, metadata: undefined }),
      );
      expectSdkError(error, 'GRPC', 'TASK_NOT_CANCELABLE');
    });
  });
});
