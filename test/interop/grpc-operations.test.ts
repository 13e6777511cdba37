/**
 * The SDK client over gRPC, for what the shared operation suites (task-operations,
 * streaming-and-resubscribe, which run over every binding) do not cover: the card's GRPC
 * interface and its tenant, push notification configs, the extended card, and one engine
 * behind both gRPC and JSON-RPC, so a task started on one binding is seen on the other.
 */
import { StreamResponse, TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENTS_WITH_EXTENDED_CARD,
  artifactParts,
  asTask,
  chunkTexts,
  collect,
  countTo,
  expectSdkError,
  firstTask,
  listRequest,
  messageRequest,
  pushConfig,
  rejection,
  stateOf,
} from '../helpers/interop.js';
import { SuiteClients, clientFor } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import {
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookRequest,
} from '../helpers/webhook-receiver.js';

describe('the SDK client over gRPC', () => {
  let t: TestServer;
  let echo: Client;
  let countdown: Client;
  const clients = new SuiteClients('GRPC');

  beforeAll(async () => {
    t = await startServer({ agents: AGENTS_WITH_EXTENDED_CARD, push: { baseDelayMs: 10, maxAttempts: 3 } });
    echo = await clients.for(t.agentUrl('echo'));
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

  describe('push notification configs', () => {
    const receivers: WebhookReceiver[] = [];
    const receiver = async (): Promise<WebhookReceiver> => {
      const r = await startWebhookReceiver();
      receivers.push(r);
      return r;
    };
    afterEach(async () => {
      await Promise.all(receivers.splice(0).map((r) => r.close()));
    });
    const decoded = (r: WebhookRequest): StreamResponse => StreamResponse.fromJSON(r.body);
    const isCompleted = (r: WebhookRequest): boolean =>
      stateOf(decoded(r)) === TaskState.TASK_STATE_COMPLETED;

    it('a task created over gRPC with a push config notifies its webhook up to COMPLETED', async () => {
      const hook = await receiver();
      const task = asTask(
        await countdown.sendMessage(
          messageRequest('count to 3', {
            returnImmediately: true,
            push: { url: hook.url, token: 'tok-grpc' },
          }),
        ),
      );
      await hook.waitFor(isCompleted);
      const bodies = hook.requests.map(decoded);
      expect(bodies[0]?.payload?.$case).toBe('task');
      expect(chunkTexts(bodies)).toEqual(countTo(3));
      for (const r of hook.requests) expect(r.headers['x-a2a-notification-token']).toBe('tok-grpc');
      for (const b of bodies) {
        const v = b.payload?.value as { id?: string; taskId?: string };
        expect(v.taskId ?? v.id).toBe(task.id);
      }
    });

    it('Create, Get, List and Delete work on an existing task, and the webhook hears the rest of it', async () => {
      const hook = await receiver();
      const task = asTask(await countdown.sendMessage(messageRequest('count to 4 and ask')));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

      const created = await countdown.createTaskPushNotificationConfig(
        pushConfig({ taskId: task.id, id: 'cfg-1', url: hook.url, token: 'tok-1' }),
      );
      expect(created).toMatchObject({ taskId: task.id, id: 'cfg-1', url: hook.url, token: 'tok-1' });
      const got = await countdown.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: 'cfg-1' });
      expect(got).toMatchObject({ taskId: task.id, id: 'cfg-1', url: hook.url, token: 'tok-1' });
      const generated = await countdown.createTaskPushNotificationConfig(
        pushConfig({ taskId: task.id, url: `${hook.url}?second` }),
      );
      expect(generated.id).not.toBe('');
      const listed = await countdown.listTaskPushNotificationConfig({
        tenant: '',
        taskId: task.id,
        pageSize: 0,
        pageToken: '',
      });
      expect(listed.configs.map((c) => c.id).sort()).toEqual(['cfg-1', generated.id].sort());

      await countdown.deleteTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: generated.id });
      const afterDelete = await countdown.listTaskPushNotificationConfig({
        tenant: '',
        taskId: task.id,
        pageSize: 0,
        pageToken: '',
      });
      expect(afterDelete.configs.map((c) => c.id)).toEqual(['cfg-1']);
      const gone = await rejection(
        countdown.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: generated.id }),
      );
      expectSdkError(gone, 'GRPC', 'TASK_NOT_FOUND');

      const done = asTask(await countdown.sendMessage(messageRequest('go on', { taskId: task.id })));
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      await hook.waitFor(isCompleted);
      expect(chunkTexts(hook.requests.map(decoded))).toEqual(countTo(4, 3));
      // Only the remaining config was notified.
      expect(hook.requests.every((r) => r.path === '/hook')).toBe(true);
      expect(hook.requests.every((r) => r.headers['x-a2a-notification-token'] === 'tok-1')).toBe(true);
    });
  });

  describe('GetExtendedAgentCard', () => {
    it('returns the configured extended card', async () => {
      const vip = await clients.for(t.agentUrl('vip'));
      expect((await vip.getAgentCard()).capabilities?.extendedAgentCard).toBe(true);
      const extended = await vip.transport.getExtendedAgentCard({ tenant: '' });
      expect(extended.name).toBe('vip');
      expect(extended.description).toBe('x');
      // The client swaps in the extended card since the public one advertises it.
      expect((await vip.getAgentCard()).description).toBe('x');
    });

    it('without one configured is ExtendedAgentCardNotConfiguredError (FAILED_PRECONDITION)', async () => {
      expect((await echo.getAgentCard()).capabilities?.extendedAgentCard).toBe(false);
      const error = await rejection(echo.transport.getExtendedAgentCard({ tenant: '' }));
      expectSdkError(error, 'GRPC', 'EXTENDED_AGENT_CARD_NOT_CONFIGURED');
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
