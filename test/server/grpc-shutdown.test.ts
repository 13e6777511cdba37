/**
 * Graceful shutdown drains gRPC like HTTP: running streams get their events to the end,
 * an idle subscription is ended cleanly (status OK), new work is refused with the
 * retryable UNAVAILABLE / SHUTTING_DOWN while draining, the port closes afterwards, and
 * `shutdown()` resolves.
 */
import * as grpc from '@grpc/grpc-js';
import { TaskState } from '@a2a-js/sdk';
import type { SendMessageRequest, StreamResponse, Task } from '@a2a-js/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { RawGrpcClient, expectGrpcError } from '../helpers/grpc.js';
import {
  artifactParts,
  chunkTexts,
  countTo,
  describeEvents,
  firstTask,
  messageRequest,
  messageText,
  stateOf,
} from '../helpers/interop.js';
import { startServer, type TestServer } from '../helpers/server.js';

function send(text: string): SendMessageRequest {
  return { ...messageRequest(text), tenant: 'countdown' };
}

function taskOf(response: { payload?: { $case: string; value: unknown } }): Task {
  if (response.payload?.$case !== 'task') throw new Error(`expected a Task, got ${JSON.stringify(response)}`);
  return response.payload.value as Task;
}

const last = (events: StreamResponse[]): StreamResponse => events[events.length - 1] as StreamResponse;

describe('shutdown with open gRPC streams', () => {
  const servers: TestServer[] = [];
  const clients: RawGrpcClient[] = [];
  const start = async (): Promise<{ t: TestServer; raw: RawGrpcClient }> => {
    const t = await startServer();
    const raw = new RawGrpcClient(t.server.grpcAddress as string);
    servers.push(t);
    clients.push(raw);
    return { t, raw };
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(servers.splice(0).map((t) => t.close()));
  });

  it('the running stream gets every event to COMPLETED, the idle subscription ends OK, new calls are UNAVAILABLE', async () => {
    const { t, raw } = await start();
    // A task waiting for input: its subscription would never end by itself.
    const waiting = taskOf(await raw.unary('sendMessage', send('count to 4 and ask')));
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const idle = raw.stream('subscribeToTask', { tenant: 'countdown', id: waiting.id });
    expect(stateOf((await idle.next()) as StreamResponse)).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    // A countdown that is running when the shutdown starts.
    const running = raw.stream('sendStreamingMessage', send('count to 25'));
    const head = [(await running.next()) as StreamResponse];
    expect(t.server.stats()).toMatchObject({ openStreams: 2, subscribers: 2, running: 1 });

    const startedAt = Date.now();
    const shutdown = t.server.shutdown(2000, 0);

    // While draining, new work is refused with the retryable SHUTTING_DOWN, on unary and stream calls.
    const refused = await raw.unaryError('sendMessage', send('count to 1'));
    expectGrpcError(refused, {
      code: grpc.status.UNAVAILABLE,
      reason: 'SHUTTING_DOWN',
      metadata: { retryable: 'true' },
    });
    const refusedStream = await raw.stream('sendStreamingMessage', send('count to 1')).failure();
    expect(describeEvents(refusedStream.events)).toEqual([]);
    expectGrpcError(refusedStream.error, { code: grpc.status.UNAVAILABLE, reason: 'SHUTTING_DOWN' });

    // The running task finishes inside the deadline and its stream sees all of it.
    const events = [...head, ...(await running.rest())];
    expect(firstTask(events).status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);
    expect(stateOf(last(events))).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(chunkTexts(events)).toEqual(countTo(25));
    expect((await running.status).code).toBe(grpc.status.OK);

    // The idle subscription is closed by the server, cleanly: no more events, status OK.
    expect(describeEvents(await idle.rest())).toEqual([]);
    expect(await idle.status).toMatchObject({ code: grpc.status.OK });

    await shutdown;
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(t.server.stats()).toMatchObject({ openStreams: 0, subscribers: 0, runs: 0 });

    // The port is closed now: new calls fail UNAVAILABLE, on this channel and on a fresh one.
    const closed = await raw.unaryError('getTask', {
      tenant: 'countdown',
      id: waiting.id,
      historyLength: undefined,
    });
    expect(grpc.status[closed.code]).toBe('UNAVAILABLE');
    const fresh = new RawGrpcClient(t.server.grpcAddress as string);
    clients.push(fresh);
    const refusedFresh = await fresh.unaryError('getTask', {
      tenant: 'countdown',
      id: waiting.id,
      historyLength: undefined,
    });
    expect(grpc.status[refusedFresh.code]).toBe('UNAVAILABLE');
  });

  it('past the drain deadline the running task is FAILED with the reason, and its streams end OK', async () => {
    const { t, raw } = await start();
    const stream = raw.stream('sendStreamingMessage', send('count to 1000'));
    const task = firstTask([(await stream.next()) as StreamResponse]);
    const watcher = raw.stream('subscribeToTask', { tenant: 'countdown', id: task.id });
    expect(firstTask([(await watcher.next()) as StreamResponse]).id).toBe(task.id);

    const startedAt = Date.now();
    const shutdown = t.server.shutdown(200, 0);
    for (const s of [stream, watcher]) {
      const events = await s.rest();
      const end = last(events);
      expect(stateOf(end), describeEvents(events).join(', ')).toBe(TaskState.TASK_STATE_FAILED);
      const message = end.payload?.$case === 'statusUpdate' ? end.payload.value.status?.message : undefined;
      expect(messageText(message)).toBe('The server shut down before this task finished');
      expect((await s.status).code).toBe(grpc.status.OK);
    }
    await shutdown;
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(2000);
    expect(t.logs.some((l) => l.msg === 'drain deadline passed; unfinished tasks marked failed')).toBe(true);
    // What the task did before the deadline is kept; it did not count to the end.
    const stored = (await t.server.store.tasks.get(task.id))?.task;
    expect(stored?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(artifactParts(stored as Task, 'count').length).toBeLessThan(1000);
  });
});
