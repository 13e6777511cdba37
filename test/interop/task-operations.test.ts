import { Role, TaskState } from '@a2a-js/sdk';
import type { StreamResponse, Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawGrpcClient, wireFields } from '../helpers/grpc.js';
import {
  TRANSPORTS,
  artifactParts,
  artifactText,
  asTask,
  chunkTexts,
  collect,
  countTo,
  describeEvents,
  expectSdkError,
  firstTask,
  listRequest,
  messageRequest,
  messageText,
  rejection,
  stateOf,
  type TransportName,
} from '../helpers/interop.js';
import { SuiteClients } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Task fields by protobuf field number (a2a.proto `Task`). */
const TASK_FIELDS: Record<number, string> = {
  1: 'id',
  2: 'contextId',
  3: 'status',
  4: 'artifacts',
  5: 'history',
  6: 'metadata',
};

/**
 * ListTasks for up to five tasks of the countdown agent, read as another client
 * implementation would see them on each binding's wire: one object per task, holding the
 * fields the server actually sent.
 */
const LISTED_ON_THE_WIRE: Record<TransportName, (server: TestServer) => Promise<object[]>> = {
  JSONRPC: async (server) => {
    const res = await fetch(server.agentUrl('countdown'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'a2a-version': '1.0' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ListTasks', params: { pageSize: 5 } }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { result: { tasks: object[] } }).result.tasks;
  },
  'HTTP+JSON': async (server) => {
    const res = await fetch(`${server.agentUrl('countdown')}rest/tasks?pageSize=5`, {
      headers: { 'a2a-version': '1.0' },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { tasks: object[] }).tasks;
  },
  GRPC: async (server) => {
    const raw = new RawGrpcClient(server.server.grpcAddress as string);
    try {
      const bytes = await raw.unaryBytes('listTasks', listRequest({ tenant: 'countdown', pageSize: 5 }));
      // ListTasksResponse.tasks is field 1.
      return wireFields(bytes)
        .filter((f) => f.no === 1)
        .map((task) =>
          Object.fromEntries(
            wireFields(task.bytes as Uint8Array).map((f) => [TASK_FIELDS[f.no] ?? f.no, true]),
          ),
        );
    } finally {
      raw.close();
    }
  },
};

describe.each(TRANSPORTS)('task operations over %s', (transport) => {
  let t: TestServer;
  let echo: Client;
  let countdown: Client;
  const clients = new SuiteClients(transport);
  beforeAll(async () => {
    t = await startServer();
    echo = await clients.for(t.agentUrl('echo'));
    countdown = await clients.for(t.agentUrl('countdown'));
  });
  afterAll(async () => {
    clients.close();
    await t.close();
  });

  describe('SendMessage', () => {
    it('blocks until echo COMPLETES, with one artifact echoing the text and the user message in history', async () => {
      const request = messageRequest('hello, interop');
      const task = asTask(await echo.sendMessage(request));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(task.artifacts.map((a) => a.artifactId)).toEqual(['echo']);
      expect(task.artifacts[0]?.parts.map((p) => p.content)).toEqual([
        { $case: 'text', value: 'hello, interop' },
      ]);
      const mine = task.history.find((m) => m.messageId === request.message?.messageId);
      expect(mine?.role).toBe(Role.ROLE_USER);
      expect(messageText(mine)).toBe('hello, interop');
      expect(mine?.taskId).toBe(task.id);
      expect(mine?.contextId).toBe(task.contextId);
    });

    it('honours configuration.historyLength in its answer', async () => {
      const none = asTask(await countdown.sendMessage(messageRequest('count to 2', { historyLength: 0 })));
      expect(none.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(none.history).toEqual([]);
      const lastOne = asTask(await countdown.sendMessage(messageRequest('count to 2', { historyLength: 1 })));
      expect(lastOne.history.map(messageText)).toEqual(['Counted to 2']);
      // The task itself keeps its whole history.
      expect((await countdown.getTask({ tenant: '', id: lastOne.id })).history).toHaveLength(4);
    });

    it('keeps the contextId the client chose', async () => {
      const task = asTask(
        await echo.sendMessage(messageRequest('in my context', { contextId: `ctx-${transport}` })),
      );
      expect(task.contextId).toBe(`ctx-${transport}`);
    });

    it('with returnImmediately returns a task still in progress, which later completes', async () => {
      const started = asTask(
        await countdown.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
      );
      expect([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING]).toContain(started.status?.state);
      expect(artifactText(started, 'count')).not.toBe('1\n2\n3\n4\n5\n6\n');

      // Await completion through the task's own event stream, then read it back.
      const events = await collect(countdown.resubscribeTask({ tenant: '', id: started.id }));
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      const done = await countdown.getTask({ tenant: '', id: started.id });
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactText(done, 'count')).toBe('1\n2\n3\n4\n5\n6\n');
    });
  });

  describe('GetTask historyLength', () => {
    let task: Task;
    beforeAll(async () => {
      // user message, then the agent's status messages: "Counting to 2", "1/2", "Counted to 2".
      task = asTask(await countdown.sendMessage(messageRequest('count to 2')));
    });

    it('undefined returns the whole history, oldest first', async () => {
      const got = await countdown.getTask({ tenant: '', id: task.id });
      expect(got.history.map((m) => [m.role, messageText(m)])).toEqual([
        [Role.ROLE_USER, 'count to 2'],
        [Role.ROLE_AGENT, 'Counting to 2'],
        [Role.ROLE_AGENT, '1/2'],
        [Role.ROLE_AGENT, 'Counted to 2'],
      ]);
    });

    it('0 returns no history', async () => {
      const got = await countdown.getTask({ tenant: '', id: task.id, historyLength: 0 });
      expect(got.history).toEqual([]);
      expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactText(got, 'count')).toBe('1\n2\n');
    });

    it('1 returns only the most recent message', async () => {
      const got = await countdown.getTask({ tenant: '', id: task.id, historyLength: 1 });
      expect(got.history.map(messageText)).toEqual(['Counted to 2']);
    });

    it('an unknown task id is TaskNotFound', async () => {
      const error = await rejection(countdown.getTask({ tenant: '', id: 'no-such-task' }));
      expectSdkError(error, transport, 'TASK_NOT_FOUND');
    });
  });

  describe('CancelTask', () => {
    it('cancels a running countdown; a second cancel returns the canceled task (idempotent)', async () => {
      const started = asTask(
        await countdown.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
      );
      const canceled = await countdown.cancelTask({ tenant: '', id: started.id, metadata: undefined });
      expect(canceled.id).toBe(started.id);
      expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);

      const again = await countdown.cancelTask({ tenant: '', id: started.id, metadata: undefined });
      expect(again.id).toBe(started.id);
      expect(again.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      expect(again.status?.timestamp).toBe(canceled.status?.timestamp);

      // It stays canceled: the agent stopped counting.
      const later = await countdown.getTask({ tenant: '', id: started.id });
      expect(later.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      expect(artifactParts(later, 'count').length).toBeLessThan(6);
    });

    it('canceling while another client streams ends that stream with CANCELED', async () => {
      const watcher = await clients.for(t.agentUrl('countdown'));
      const events: StreamResponse[] = [];
      let canceled: Task | undefined;
      for await (const e of watcher.sendMessageStream(messageRequest('count to 6'))) {
        events.push(e);
        if (!canceled && e.payload?.$case === 'artifactUpdate') {
          canceled = await countdown.cancelTask({
            tenant: '',
            id: firstTask(events).id,
            metadata: undefined,
          });
        }
      }
      expect(canceled?.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      const last = events[events.length - 1] as StreamResponse;
      expect(last.payload?.$case).toBe('statusUpdate');
      expect(stateOf(last)).toBe(TaskState.TASK_STATE_CANCELED);
      expect(describeEvents(events)).not.toContain('status:TASK_STATE_COMPLETED');
      expect(chunkTexts(events).length).toBeLessThan(6);
    });

    it('an unknown task id is TaskNotFound', async () => {
      const error = await rejection(
        countdown.cancelTask({ tenant: '', id: 'no-such-task', metadata: undefined }),
      );
      expectSdkError(error, transport, 'TASK_NOT_FOUND');
    });
  });

  describe('input-required continuation', () => {
    it('stops INPUT_REQUIRED halfway; a follow-up SendMessage completes the same task', async () => {
      const first = asTask(await countdown.sendMessage(messageRequest('count to 6 and ask')));
      expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
      expect(artifactText(first, 'count')).toBe('1\n2\n3\n');
      expect(messageText(first.status?.message)).toContain('Reply to continue');

      const followUp = messageRequest('go on', { taskId: first.id });
      const done = asTask(await countdown.sendMessage(followUp));
      expect(done.id).toBe(first.id);
      expect(done.contextId).toBe(first.contextId);
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactParts(done, 'count')).toEqual(countTo(6));
      const userTexts = done.history.filter((m) => m.role === Role.ROLE_USER).map(messageText);
      expect(userTexts).toEqual(['count to 6 and ask', 'go on']);
      expect(done.history.find((m) => m.messageId === followUp.message?.messageId)?.contextId).toBe(
        first.contextId,
      );

      // The task is finished now: another follow-up is refused.
      const error = await rejection(countdown.sendMessage(messageRequest('more', { taskId: first.id })));
      expectSdkError(error, transport, 'UNSUPPORTED_OPERATION');
    });

    it('a follow-up streamed with message.taskId continues from the snapshot to COMPLETED', async () => {
      const firstEvents = await collect(countdown.sendMessageStream(messageRequest('count to 6 and ask')));
      const task = firstTask(firstEvents);
      expect(stateOf(firstEvents[firstEvents.length - 1] as StreamResponse)).toBe(
        TaskState.TASK_STATE_INPUT_REQUIRED,
      );
      expect(chunkTexts(firstEvents)).toEqual(countTo(3));

      const events = await collect(
        countdown.sendMessageStream(messageRequest('continue', { taskId: task.id })),
      );
      const snapshot = firstTask(events);
      expect(snapshot.id).toBe(task.id);
      expect(snapshot.contextId).toBe(task.contextId);
      expect(artifactParts(snapshot, 'count')).toEqual(countTo(3));
      expect(chunkTexts(events.slice(1))).toEqual(countTo(6, 4));
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      for (const e of events.slice(1)) expect((e.payload?.value as { taskId: string }).taskId).toBe(task.id);

      const error = await rejection(
        collect(countdown.sendMessageStream(messageRequest('again', { taskId: task.id }))),
      );
      expectSdkError(error, transport, 'UNSUPPORTED_OPERATION');
    });
  });

  describe('ListTasks', () => {
    let list: Client;
    let byName: Record<'a1' | 'a2' | 'a3' | 'b1' | 'b2', Task>;
    let server: TestServer;
    const listClients = new SuiteClients(transport);
    const ctxA = `list-a-${transport}`;
    const ctxB = `list-b-${transport}`;

    beforeAll(async () => {
      // A server of its own, so the listing holds exactly these five tasks.
      server = await startServer();
      list = await listClients.for(server.agentUrl('countdown'));
      const a1 = asTask(await list.sendMessage(messageRequest('count to 1', { contextId: ctxA })));
      const a2 = asTask(await list.sendMessage(messageRequest('count to 2', { contextId: ctxA })));
      const a3 = asTask(await list.sendMessage(messageRequest('count to 2 and ask', { contextId: ctxA })));
      const b1 = asTask(await list.sendMessage(messageRequest('count to 1', { contextId: ctxB })));
      // Canceled after its first step, so every task's last update is at least one step apart.
      let b2: Task | undefined;
      const events: StreamResponse[] = [];
      for await (const e of list.sendMessageStream(messageRequest('count to 6', { contextId: ctxB }))) {
        events.push(e);
        if (!b2 && e.payload?.$case === 'artifactUpdate') {
          b2 = await list.cancelTask({ tenant: '', id: firstTask(events).id, metadata: undefined });
        }
      }
      if (!b2) throw new Error('the countdown never produced a chunk');
      byName = { a1, a2, a3, b1, b2 };
      expect([a1, a2, b1].map((x) => x.status?.state)).toEqual(Array(3).fill(TaskState.TASK_STATE_COMPLETED));
      expect(a3.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
      expect(b2.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    });
    afterAll(async () => {
      listClients.close();
      await server.close();
    });

    const ids = (tasks: Task[]): string[] => tasks.map((x) => x.id);

    it('lists every task, most recently updated first, with totalSize', async () => {
      const res = await list.listTasks(listRequest());
      expect(ids(res.tasks)).toEqual(ids([byName.b2, byName.b1, byName.a3, byName.a2, byName.a1]));
      expect(res.totalSize).toBe(5);
      expect(res.nextPageToken).toBe('');
      const stamps = res.tasks.map((x) => Date.parse(x.status?.timestamp ?? ''));
      expect(stamps).toEqual([...stamps].sort((x, y) => y - x));
    });

    it('filters by contextId', async () => {
      const a = await list.listTasks(listRequest({ contextId: ctxA }));
      expect(ids(a.tasks)).toEqual(ids([byName.a3, byName.a2, byName.a1]));
      expect(a.totalSize).toBe(3);
      const b = await list.listTasks(listRequest({ contextId: ctxB }));
      expect(ids(b.tasks)).toEqual(ids([byName.b2, byName.b1]));
      expect(b.tasks.every((x) => x.contextId === ctxB)).toBe(true);
    });

    it('filters by status, alone and with a contextId', async () => {
      const completed = await list.listTasks(listRequest({ status: TaskState.TASK_STATE_COMPLETED }));
      expect(ids(completed.tasks)).toEqual(ids([byName.b1, byName.a2, byName.a1]));
      expect(completed.totalSize).toBe(3);
      const waiting = await list.listTasks(listRequest({ status: TaskState.TASK_STATE_INPUT_REQUIRED }));
      expect(ids(waiting.tasks)).toEqual([byName.a3.id]);
      const canceled = await list.listTasks(listRequest({ status: TaskState.TASK_STATE_CANCELED }));
      expect(ids(canceled.tasks)).toEqual([byName.b2.id]);
      const completedInA = await list.listTasks(
        listRequest({ contextId: ctxA, status: TaskState.TASK_STATE_COMPLETED }),
      );
      expect(ids(completedInA.tasks)).toEqual(ids([byName.a2, byName.a1]));
      expect(completedInA.totalSize).toBe(2);
      const none = await list.listTasks(
        listRequest({ contextId: ctxB, status: TaskState.TASK_STATE_INPUT_REQUIRED }),
      );
      expect(none.tasks).toEqual([]);
      expect(none.totalSize).toBe(0);
    });

    it('pages with pageSize and nextPageToken: no duplicates, nothing missed, order kept', async () => {
      const pages: Task[][] = [];
      let pageToken = '';
      do {
        const res = await list.listTasks(listRequest({ pageSize: 2, pageToken }));
        expect(res.totalSize).toBe(5);
        expect(res.pageSize).toBe(2);
        expect(res.tasks.length).toBeLessThanOrEqual(2);
        pages.push(res.tasks);
        pageToken = res.nextPageToken;
        expect(pages.length).toBeLessThanOrEqual(3);
      } while (pageToken);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      const all = ids(pages.flat());
      expect(new Set(all).size).toBe(all.length);
      expect(all).toEqual(ids([byName.b2, byName.b1, byName.a3, byName.a2, byName.a1]));
    });

    it('pages within a filter too', async () => {
      const first = await list.listTasks(listRequest({ contextId: ctxA, pageSize: 2 }));
      expect(ids(first.tasks)).toEqual(ids([byName.a3, byName.a2]));
      expect(first.nextPageToken).not.toBe('');
      const second = await list.listTasks(
        listRequest({ contextId: ctxA, pageSize: 2, pageToken: first.nextPageToken }),
      );
      expect(ids(second.tasks)).toEqual([byName.a1.id]);
      expect(second.nextPageToken).toBe('');
      expect(second.totalSize).toBe(3);
    });

    it("limits each listed task's history with historyLength", async () => {
      const full = await list.listTasks(listRequest({ contextId: ctxA }));
      expect(full.tasks.map((x) => x.history.length).every((n) => n > 1)).toBe(true);
      const one = await list.listTasks(listRequest({ contextId: ctxA, historyLength: 1 }));
      expect(one.tasks.map((x) => x.history.length)).toEqual([1, 1, 1]);
      expect(one.tasks.map((x) => messageText(x.history[0]))).toEqual(
        full.tasks.map((x) => messageText(x.history[x.history.length - 1])),
      );
      const none = await list.listTasks(listRequest({ contextId: ctxA, historyLength: 0 }));
      expect(none.tasks.map((x) => x.history)).toEqual([[], [], []]);
    });

    it('omits artifacts unless includeArtifacts is set', async () => {
      const without = await list.listTasks(listRequest({ status: TaskState.TASK_STATE_COMPLETED }));
      expect(without.tasks).toHaveLength(3);
      for (const x of without.tasks) expect(x.artifacts).toEqual([]);

      const withArtifacts = await list.listTasks(
        listRequest({ status: TaskState.TASK_STATE_COMPLETED, includeArtifacts: true }),
      );
      expect(withArtifacts.tasks.map((x) => artifactText(x, 'count'))).toEqual(['1\n', '1\n2\n', '1\n']);
    });

    it('omits artifacts on the wire, not just in the SDK', async () => {
      // What another client implementation would see: the field is absent, not empty.
      const tasks = await LISTED_ON_THE_WIRE[transport](server);
      expect(tasks).toHaveLength(5);
      for (const x of tasks) expect(x).not.toHaveProperty('artifacts');
    });
  });

  describe('with one worker', () => {
    let busy: TestServer;
    const busyClients = new SuiteClients(transport);
    beforeAll(async () => {
      busy = await startServer({ execution: { maxConcurrentWorkflows: 1 } });
    });
    afterAll(async () => {
      busyClients.close();
      await busy.close();
    });

    it('a task canceled while it waits for a worker never runs', async () => {
      const client = await busyClients.for(busy.agentUrl('countdown'));
      const running = asTask(
        await client.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
      );
      const queued = asTask(
        await client.sendMessage(messageRequest('count to 3', { returnImmediately: true })),
      );
      expect(queued.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);

      const canceled = await client.cancelTask({ tenant: '', id: queued.id, metadata: undefined });
      expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);

      // The first task completes normally; the canceled one never produced anything.
      const events = await collect(client.resubscribeTask({ tenant: '', id: running.id }));
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      const after = await client.getTask({ tenant: '', id: queued.id });
      expect(after.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
      expect(after.artifacts).toEqual([]);
      expect(after.history.filter((m) => m.role === Role.ROLE_AGENT)).toEqual([]);
      // And the worker is free again.
      const next = asTask(await client.sendMessage(messageRequest('count to 1')));
      expect(next.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    });
  });
});
