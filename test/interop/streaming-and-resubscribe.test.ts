import { TaskState } from '@a2a-js/sdk';
import type { StreamResponse } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TRANSPORTS,
  artifactParts,
  asTask,
  chunkTexts,
  collect,
  countTo,
  describeEvents,
  expectSdkError,
  firstTask,
  messageRequest,
  rejection,
  stateOf,
} from '../helpers/interop.js';
import { SuiteClients } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';

describe.each(TRANSPORTS)('streaming and resubscribe over %s', (transport) => {
  let t: TestServer;
  const clients = new SuiteClients(transport);
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    clients.close();
    await t.close();
  });

  it('streams the Task first, then WORKING updates and artifact chunks in order, and ends COMPLETED', async () => {
    const client = await clients.for(t.agentUrl('countdown'));
    const request = messageRequest('count to 5');
    const events = await collect(client.sendMessageStream(request));

    const task = firstTask(events);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    expect(task.history.map((m) => m.messageId)).toEqual([request.message?.messageId]);

    // Everything between the Task and the end is WORKING status or an artifact chunk.
    const middle = events.slice(1, -1);
    expect(middle.length).toBeGreaterThan(0);
    for (const e of middle) {
      const p = e.payload;
      expect(
        p?.$case === 'artifactUpdate' ||
          (p?.$case === 'statusUpdate' && p.value.status?.state === TaskState.TASK_STATE_WORKING),
        describeEvents([e])[0],
      ).toBe(true);
    }
    const last = events[events.length - 1] as StreamResponse;
    expect(last.payload?.$case).toBe('statusUpdate');
    expect(stateOf(last)).toBe(TaskState.TASK_STATE_COMPLETED);

    // Every event belongs to the same task and context.
    for (const e of events.slice(1)) {
      const v = e.payload?.value as { taskId?: string; contextId?: string };
      expect(v.taskId).toBe(task.id);
      expect(v.contextId).toBe(task.contextId);
    }

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
      'status:TASK_STATE_WORKING',
      'artifact:["5\\n"]',
      'status:TASK_STATE_COMPLETED',
    ]);

    const chunks = events.flatMap((e) => (e.payload?.$case === 'artifactUpdate' ? [e.payload.value] : []));
    expect(chunks.map((c) => c.append)).toEqual([false, true, true, true, true]);
    expect(chunks.map((c) => c.lastChunk)).toEqual([false, false, false, false, true]);
    expect(chunks.every((c) => c.artifact?.artifactId === 'count')).toBe(true);
    expect(chunkTexts(events).join('')).toBe('1\n2\n3\n4\n5\n');

    // The stored task agrees with what was streamed.
    const stored = await client.getTask({ tenant: '', id: task.id });
    expect(stored.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(stored.artifacts.find((a) => a.artifactId === 'count')?.parts.map((p) => p.content)).toEqual(
      countTo(5).map((value) => ({ $case: 'text', value })),
    );
  });

  it('SubscribeToTask starts with a Task snapshot, then delivers the live events to COMPLETED', async () => {
    const client = await clients.for(t.agentUrl('countdown'));
    const started = asTask(
      await client.sendMessage(messageRequest('count to 6', { returnImmediately: true })),
    );

    const events = await collect(client.resubscribeTask({ tenant: '', id: started.id }));
    const snapshot = firstTask(events);
    expect(snapshot.id).toBe(started.id);
    expect(snapshot.contextId).toBe(started.contextId);
    expect([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING]).toContain(snapshot.status?.state);
    expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);

    // The snapshot carries the chunks applied so far; the live events carry the rest.
    const fromSnapshot = artifactParts(snapshot, 'count');
    expect([...fromSnapshot, ...chunkTexts(events.slice(1))]).toEqual(countTo(6));
  });

  it('resubscribing after a disconnect continues without a gap or a duplicate', async () => {
    const client = await clients.for(t.agentUrl('countdown'));
    const K = 4;
    const before: StreamResponse[] = [];
    for await (const e of client.sendMessageStream(messageRequest('count to 6'))) {
      before.push(e);
      if (before.length === K) break; // leaving the loop closes the SSE connection / cancels the gRPC call
    }
    const task = firstTask(before);
    expect(before).toHaveLength(K);
    // The server notices the disconnect and releases the stream; the task keeps running.
    await eventually(
      () => t.server.stats().openStreams === 0 && t.server.stats().subscribers === 0,
      5000,
      'the server to release the abandoned stream',
    );

    const after = await collect(client.resubscribeTask({ tenant: '', id: task.id }));
    const snapshot = firstTask(after);
    expect(snapshot.id).toBe(task.id);
    expect(stateOf(after[after.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);

    const applied = artifactParts(snapshot, 'count');
    const seenBefore = chunkTexts(before);
    expect(seenBefore).toEqual(['1\n']);
    // What the first stream showed is already in the snapshot, in order.
    expect(applied.slice(0, seenBefore.length)).toEqual(seenBefore);
    // Snapshot + live events: every chunk exactly once, in order.
    expect([...applied, ...chunkTexts(after.slice(1))]).toEqual(countTo(6));
  });

  it('a subscriber to a task waiting for input stays attached and sees the follow-up run to COMPLETED', async () => {
    const client = await clients.for(t.agentUrl('countdown'));
    const waiting = asTask(await client.sendMessage(messageRequest('count to 4 and ask')));
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

    const subscription = client.resubscribeTask({ tenant: '', id: waiting.id });
    const first = await subscription.next();
    expect(first.done).toBe(false);
    const snapshot = firstTask([first.value as StreamResponse]);
    expect(snapshot.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

    const done = asTask(await client.sendMessage(messageRequest('continue', { taskId: waiting.id })));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const rest = await collect({ [Symbol.asyncIterator]: () => subscription });
    expect(chunkTexts(rest)).toEqual(countTo(4, 3));
    expect(stateOf(rest[rest.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('a subscriber to a task waiting for input sees it CANCELED, and its stream ends', async () => {
    const client = await clients.for(t.agentUrl('countdown'));
    const waiting = asTask(await client.sendMessage(messageRequest('count to 4 and ask')));
    const subscription = client.resubscribeTask({ tenant: '', id: waiting.id });
    const first = await subscription.next();
    expect(stateOf(first.value as StreamResponse)).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

    const canceled = await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const rest = await collect({ [Symbol.asyncIterator]: () => subscription });
    expect(describeEvents(rest)).toEqual(['status:TASK_STATE_CANCELED']);
  });

  it('SubscribeToTask on a finished task is refused with UnsupportedOperation', async () => {
    const client = await clients.for(t.agentUrl('countdown'));
    const done = asTask(await client.sendMessage(messageRequest('count to 1')));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const error = await rejection(collect(client.resubscribeTask({ tenant: '', id: done.id })));
    expectSdkError(error, transport, 'UNSUPPORTED_OPERATION');
  });
});
