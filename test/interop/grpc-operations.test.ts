/**
 * Every A2A operation through the official SDK client over gRPC, created the way users
 * create it: from the agent's card URL alone, with the GRPC interface preferred. The
 * same engine serves JSON-RPC, so a task started on one binding is seen on the other.
 */
import { Role, TaskState, StreamResponse } from '@a2a-js/sdk';
import type { ListTasksRequest, Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import {
  ExtendedAgentCardNotConfiguredError,
  TaskNotCancelableError,
  TaskNotFoundError,
  UnsupportedOperationError,
} from '@a2a-js/sdk/errors';
import { isGrpcError } from '@a2a-js/sdk/errors/grpc';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeSdkClient, grpcClientFor } from '../helpers/grpc.js';
import {
  artifactParts,
  artifactText,
  asTask,
  chunkTexts,
  collect,
  countTo,
  describeEvents,
  firstTask,
  messageRequest,
  messageText,
  pushConfig,
  stateOf,
} from '../helpers/interop.js';
import { clientFor } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import {
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookRequest,
} from '../helpers/webhook-receiver.js';

const AGENTS = [
  { name: 'echo', kind: 'echo', default: true },
  { name: 'countdown', kind: 'countdown', stepMs: 20 },
  {
    name: 'vip',
    kind: 'echo',
    description: 'an echo with a private side',
    extendedCard: { description: 'x' },
  },
];

function listRequest(fields: Partial<ListTasksRequest> = {}): ListTasksRequest {
  return {
    tenant: '',
    contextId: '',
    status: TaskState.TASK_STATE_UNSPECIFIED,
    pageToken: '',
    statusTimestampAfter: undefined,
    ...fields,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Asserts the SDK's semantic error as its gRPC transport raises it, with the wire status. */
function expectGrpcSdkError(
  error: unknown,
  cls: abstract new (...args: never[]) => unknown,
  expected: { name: string; reason: string; status: grpc.status },
): void {
  expect(error).toBeInstanceOf(cls);
  expect(error).toMatchObject({ name: expected.name, reason: expected.reason, transport: 'grpc' });
  expect(isGrpcError(error)).toBe(true);
  if (isGrpcError(error)) expect(grpc.status[error.status]).toBe(grpc.status[expected.status]);
}

const ids = (tasks: Task[]): string[] => tasks.map((x) => x.id);

describe('the SDK client over gRPC', () => {
  let t: TestServer;
  let echo: Client;
  let countdown: Client;
  const clients: Client[] = [];
  /** A gRPC client for one agent, closed after the suite. */
  const grpcClient = async (agent: string, server: TestServer = t): Promise<Client> => {
    const c = await grpcClientFor(server.agentUrl(agent));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startServer({ agents: AGENTS, push: { baseDelayMs: 10, maxAttempts: 3 } });
    echo = await grpcClient('echo');
    countdown = await grpcClient('countdown');
  });
  afterAll(async () => {
    for (const c of clients.splice(0)) closeSdkClient(c);
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

  describe('SendMessage', () => {
    it('blocks until echo COMPLETES, with the text echoed and the user message in history', async () => {
      const request = messageRequest('hello over gRPC');
      const task = asTask(await echo.sendMessage(request));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(task.artifacts.map((a) => a.artifactId)).toEqual(['echo']);
      expect(artifactText(task, 'echo')).toBe('hello over gRPC');
      const mine = task.history.find((m) => m.messageId === request.message?.messageId);
      expect(mine?.role).toBe(Role.ROLE_USER);
      expect(messageText(mine)).toBe('hello over gRPC');
      expect(mine?.taskId).toBe(task.id);
      expect(mine?.contextId).toBe(task.contextId);
    });

    it('keeps the contextId the client chose and honours configuration.historyLength', async () => {
      const task = asTask(
        await countdown.sendMessage(
          messageRequest('count to 2', { contextId: 'grpc-ctx', historyLength: 1 }),
        ),
      );
      expect(task.contextId).toBe('grpc-ctx');
      expect(task.history.map(messageText)).toEqual(['Counted to 2']);
      const none = asTask(await countdown.sendMessage(messageRequest('count to 1', { historyLength: 0 })));
      expect(none.history).toEqual([]);
      expect(none.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    });

    it('with returnImmediately answers while the task is in progress; it then completes', async () => {
      const started = asTask(
        await countdown.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
      );
      expect([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING]).toContain(started.status?.state);
      expect(artifactParts(started, 'count').length).toBeLessThan(6);

      const events = await collect(countdown.resubscribeTask({ tenant: '', id: started.id }));
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      const done = await countdown.getTask({ tenant: '', id: started.id });
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactParts(done, 'count')).toEqual(countTo(6));
    });
  });

  it('SendStreamingMessage streams the Task, WORKING updates and chunks in order, then COMPLETED', async () => {
    const request = messageRequest('count to 4');
    const events = await collect(countdown.sendMessageStream(request));
    const task = firstTask(events);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    expect(task.history.map((m) => m.messageId)).toEqual([request.message?.messageId]);
    expect(describeEvents(events)).toEqual([
      'task:TASK_STATE_SUBMITTED',
      'status:TASK_STATE_WORKING',
      'artifact:["1\\n"]',
      'status:TASK_STATE_WORKING',
      'artifact:["2\\n"]',
      'status:TASK_STATE_WORKING',
      'artifact:["3\\n"]',
      'status:TASK_STATE_WORKING',
      'artifact:["4\\n"]',
      'status:TASK_STATE_COMPLETED',
    ]);
    const chunks = events.flatMap((e) => (e.payload?.$case === 'artifactUpdate' ? [e.payload.value] : []));
    expect(chunks.map((c) => [c.append, c.lastChunk])).toEqual([
      [false, false],
      [true, false],
      [true, false],
      [true, true],
    ]);
    for (const e of events.slice(1)) {
      const v = e.payload?.value as { taskId?: string; contextId?: string };
      expect([v.taskId, v.contextId]).toEqual([task.id, task.contextId]);
    }
    const stored = await countdown.getTask({ tenant: '', id: task.id });
    expect(stored.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactParts(stored, 'count')).toEqual(countTo(4));
  });

  describe('GetTask', () => {
    let task: Task;
    beforeAll(async () => {
      // The user message, then "Counting to 2", "1/2", "Counted to 2".
      task = asTask(await countdown.sendMessage(messageRequest('count to 2')));
    });

    it('returns the whole history without historyLength, oldest first', async () => {
      const got = await countdown.getTask({ tenant: '', id: task.id });
      expect(got.history.map((m) => [m.role, messageText(m)])).toEqual([
        [Role.ROLE_USER, 'count to 2'],
        [Role.ROLE_AGENT, 'Counting to 2'],
        [Role.ROLE_AGENT, '1/2'],
        [Role.ROLE_AGENT, 'Counted to 2'],
      ]);
    });

    it('historyLength 0 returns no history, 1 the most recent message', async () => {
      const none = await countdown.getTask({ tenant: '', id: task.id, historyLength: 0 });
      expect(none.history).toEqual([]);
      expect(artifactParts(none, 'count')).toEqual(countTo(2));
      const one = await countdown.getTask({ tenant: '', id: task.id, historyLength: 1 });
      expect(one.history.map(messageText)).toEqual(['Counted to 2']);
    });

    it('an unknown id is TaskNotFoundError with status NOT_FOUND', async () => {
      const error = await rejection(countdown.getTask({ tenant: '', id: 'no-such-task' }));
      expectGrpcSdkError(error, TaskNotFoundError, {
        name: 'TaskNotFoundError',
        reason: 'TASK_NOT_FOUND',
        status: grpc.status.NOT_FOUND,
      });
    });
  });

  describe('ListTasks', () => {
    let server: TestServer;
    let list: Client;
    let byName: Record<'a1' | 'a2' | 'b1', Task>;
    beforeAll(async () => {
      // A server of its own, so the listing holds exactly these tasks.
      server = await startServer();
      list = await grpcClient('countdown', server);
      const a1 = asTask(await list.sendMessage(messageRequest('count to 1', { contextId: 'a' })));
      const a2 = asTask(await list.sendMessage(messageRequest('count to 2 and ask', { contextId: 'a' })));
      const b1 = asTask(await list.sendMessage(messageRequest('count to 2', { contextId: 'b' })));
      expect([a1, a2, b1].map((x) => TaskState[x.status?.state ?? 0])).toEqual([
        'TASK_STATE_COMPLETED',
        'TASK_STATE_INPUT_REQUIRED',
        'TASK_STATE_COMPLETED',
      ]);
      byName = { a1, a2, b1 };
    });
    afterAll(() => server.close());

    it('lists every task, most recently updated first, with totalSize', async () => {
      const res = await list.listTasks(listRequest());
      expect(ids(res.tasks)).toEqual(ids([byName.b1, byName.a2, byName.a1]));
      expect(res.totalSize).toBe(3);
      expect(res.nextPageToken).toBe('');
    });

    it('filters by contextId and by status', async () => {
      expect(ids((await list.listTasks(listRequest({ contextId: 'a' }))).tasks)).toEqual(
        ids([byName.a2, byName.a1]),
      );
      const completed = await list.listTasks(listRequest({ status: TaskState.TASK_STATE_COMPLETED }));
      expect(ids(completed.tasks)).toEqual(ids([byName.b1, byName.a1]));
      expect(completed.totalSize).toBe(2);
      const both = await list.listTasks(
        listRequest({ contextId: 'a', status: TaskState.TASK_STATE_INPUT_REQUIRED }),
      );
      expect(ids(both.tasks)).toEqual([byName.a2.id]);
      const none = await list.listTasks(
        listRequest({ contextId: 'b', status: TaskState.TASK_STATE_CANCELED }),
      );
      expect(none.tasks).toEqual([]);
      expect(none.totalSize).toBe(0);
    });

    it('pages with pageSize and nextPageToken: nothing missed, nothing twice, order kept', async () => {
      const first = await list.listTasks(listRequest({ pageSize: 2 }));
      expect(first.pageSize).toBe(2);
      expect(ids(first.tasks)).toEqual(ids([byName.b1, byName.a2]));
      expect(first.nextPageToken).not.toBe('');
      const second = await list.listTasks(listRequest({ pageSize: 2, pageToken: first.nextPageToken }));
      expect(ids(second.tasks)).toEqual([byName.a1.id]);
      expect(second.nextPageToken).toBe('');
      expect(second.totalSize).toBe(3);
    });

    it('omits artifacts unless includeArtifacts is set, and limits history with historyLength', async () => {
      const without = await list.listTasks(listRequest({ status: TaskState.TASK_STATE_COMPLETED }));
      expect(without.tasks.map((x) => x.artifacts)).toEqual([[], []]);
      const withArtifacts = await list.listTasks(
        listRequest({ status: TaskState.TASK_STATE_COMPLETED, includeArtifacts: true }),
      );
      expect(withArtifacts.tasks.map((x) => artifactText(x, 'count'))).toEqual(['1\n2\n', '1\n']);
      const short = await list.listTasks(listRequest({ contextId: 'a', historyLength: 1 }));
      expect(short.tasks.map((x) => x.history.length)).toEqual([1, 1]);
    });
  });

  describe('CancelTask', () => {
    it('cancels a running countdown; a second cancel is TaskNotCancelableError (FAILED_PRECONDITION)', async () => {
      const started = asTask(
        await countdown.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
      );
      const canceled = await countdown.cancelTask({ tenant: '', id: started.id, metadata: undefined });
      expect(canceled.id).toBe(started.id);
      expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);

      const again = await rejection(
        countdown.cancelTask({ tenant: '', id: started.id, metadata: undefined }),
      );
      expectGrpcSdkError(again, TaskNotCancelableError, {
        name: 'TaskNotCancelableError',
        reason: 'TASK_NOT_CANCELABLE',
        status: grpc.status.FAILED_PRECONDITION,
      });
      const later = await countdown.getTask({ tenant: '', id: started.id });
      expect(later.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      expect(artifactParts(later, 'count').length).toBeLessThan(6);
    });
  });

  describe('SubscribeToTask', () => {
    it('starts with a Task snapshot, then delivers the live events to COMPLETED', async () => {
      const started = asTask(
        await countdown.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
      );
      const events = await collect(countdown.resubscribeTask({ tenant: '', id: started.id }));
      const snapshot = firstTask(events);
      expect(snapshot.id).toBe(started.id);
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      expect([...artifactParts(snapshot, 'count'), ...chunkTexts(events.slice(1))]).toEqual(countTo(6));
    });

    it('resubscribing after breaking out of a stream continues without a gap or a duplicate', async () => {
      const before: StreamResponse[] = [];
      for await (const e of countdown.sendMessageStream(messageRequest('count to 6'))) {
        before.push(e);
        if (before.length === 4) break; // leaving the loop cancels the gRPC call
      }
      const task = firstTask(before);
      expect(chunkTexts(before)).toEqual(['1\n']);
      await eventually(
        () => t.server.stats().openStreams === 0 && t.server.stats().subscribers === 0,
        5000,
        'the server to release the abandoned stream',
      );

      const after = await collect(countdown.resubscribeTask({ tenant: '', id: task.id }));
      const snapshot = firstTask(after);
      expect(snapshot.id).toBe(task.id);
      expect(stateOf(after[after.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      const applied = artifactParts(snapshot, 'count');
      expect(applied.slice(0, 1)).toEqual(['1\n']);
      expect([...applied, ...chunkTexts(after.slice(1))]).toEqual(countTo(6));
    });

    it('on a finished task is UnsupportedOperationError (FAILED_PRECONDITION)', async () => {
      const done = asTask(await countdown.sendMessage(messageRequest('count to 1')));
      const error = await rejection(collect(countdown.resubscribeTask({ tenant: '', id: done.id })));
      expectGrpcSdkError(error, UnsupportedOperationError, {
        name: 'UnsupportedOperationError',
        reason: 'UNSUPPORTED_OPERATION',
        status: grpc.status.FAILED_PRECONDITION,
      });
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
      expectGrpcSdkError(gone, TaskNotFoundError, {
        name: 'TaskNotFoundError',
        reason: 'TASK_NOT_FOUND',
        status: grpc.status.NOT_FOUND,
      });

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
      const vip = await grpcClient('vip');
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
      expectGrpcSdkError(error, ExtendedAgentCardNotConfiguredError, {
        name: 'ExtendedAgentCardNotConfiguredError',
        reason: 'EXTENDED_AGENT_CARD_NOT_CONFIGURED',
        status: grpc.status.FAILED_PRECONDITION,
      });
    });
  });

  describe('input-required continuation', () => {
    it('stops INPUT_REQUIRED halfway; a follow-up SendMessage completes the same task', async () => {
      const first = asTask(await countdown.sendMessage(messageRequest('count to 6 and ask')));
      expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
      expect(artifactParts(first, 'count')).toEqual(countTo(3));
      expect(messageText(first.status?.message)).toContain('Reply to continue');

      const followUp = messageRequest('go on', { taskId: first.id });
      const done = asTask(await countdown.sendMessage(followUp));
      expect([done.id, done.contextId]).toEqual([first.id, first.contextId]);
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactParts(done, 'count')).toEqual(countTo(6));
      expect(done.history.filter((m) => m.role === Role.ROLE_USER).map(messageText)).toEqual([
        'count to 6 and ask',
        'go on',
      ]);

      const error = await rejection(countdown.sendMessage(messageRequest('more', { taskId: first.id })));
      expectGrpcSdkError(error, UnsupportedOperationError, {
        name: 'UnsupportedOperationError',
        reason: 'UNSUPPORTED_OPERATION',
        status: grpc.status.FAILED_PRECONDITION,
      });
    });

    it('a streamed follow-up starts with the snapshot and continues to COMPLETED', async () => {
      const firstEvents = await collect(countdown.sendMessageStream(messageRequest('count to 4 and ask')));
      const task = firstTask(firstEvents);
      expect(stateOf(firstEvents[firstEvents.length - 1] as StreamResponse)).toBe(
        TaskState.TASK_STATE_INPUT_REQUIRED,
      );
      expect(chunkTexts(firstEvents)).toEqual(countTo(2));

      const events = await collect(
        countdown.sendMessageStream(messageRequest('continue', { taskId: task.id })),
      );
      const snapshot = firstTask(events);
      expect(snapshot.id).toBe(task.id);
      expect(artifactParts(snapshot, 'count')).toEqual(countTo(2));
      expect(chunkTexts(events.slice(1))).toEqual(countTo(4, 3));
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
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
      expect(ids(listed.tasks)).toEqual([started.id]);
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
      expect(
        await rejection(countdown.cancelTask({ tenant: '', id: waiting.id, metadata: undefined })),
      ).toBeInstanceOf(TaskNotCancelableError);
    });
  });
});
