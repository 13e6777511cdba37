/**
 * The gRPC binding under bad requests and misbehaving callers, seen through a raw grpc-js
 * client so every assertion is on the wire: the status code, the message, and the
 * `google.rpc.Status` + ErrorInfo in `grpc-status-details-bin` (A2A §5.4, §10.6). After
 * each failure the server must go on serving; after each abandoned stream it must hold
 * no stream and no subscriber, while the task it watched runs on.
 */
import * as grpc from '@grpc/grpc-js';
import { TaskState } from '@a2a-js/sdk';
import type { SendMessageRequest, StreamResponse, Task } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  artifactParts,
  artifactText,
  chunkTexts,
  countTo,
  describeEvents,
  firstTask,
  messageRequest,
  stateOf,
  type RequestOptions,
} from '../../helpers/interop.js';
import {
  RawGrpcClient,
  eventuallyAsync,
  expectGrpcError,
  type GrpcErrorExpectation,
} from '../../helpers/grpc.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';
import { isTerminal } from '../../../src/engine/task-state.js';

const UNKNOWN_TASK = '00000000-0000-4000-8000-00000000dead';

/** A SendMessageRequest addressed to one agent (the gRPC tenant). */
function send(agent: string, text: string, options: RequestOptions = {}): SendMessageRequest {
  return { ...messageRequest(text, options), tenant: agent };
}

/** The Task a blocking SendMessage answered with; fails the test on a bare Message. */
function taskOf(response: { payload?: { $case: string; value: unknown } }): Task {
  if (response.payload?.$case !== 'task') throw new Error(`expected a Task, got ${JSON.stringify(response)}`);
  return response.payload.value as Task;
}

/** A normal call that must still work: echo answers COMPLETED with the text. */
async function expectServing(raw: RawGrpcClient): Promise<void> {
  const task = taskOf(await raw.unary('sendMessage', send('echo', 'still serving')));
  expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  expect(artifactText(task, 'echo')).toBe('still serving');
}

interface Ctx {
  readonly raw: RawGrpcClient;
  /** A COMPLETED echo task. */
  readonly finished: Task;
}

interface ErrorCase {
  readonly name: string;
  run(c: Ctx): Promise<grpc.ServiceError>;
  expect(c: Ctx): GrpcErrorExpectation;
}

/** Opens a stream that must fail before it yields anything. */
async function streamError(
  c: Ctx,
  method: 'sendStreamingMessage' | 'subscribeToTask',
  request: Parameters<RawGrpcClient['stream']>[1],
  metadata?: Record<string, string>,
): Promise<grpc.ServiceError> {
  const { events, error } = await c.raw.stream(method, request, { metadata }).failure();
  expect(describeEvents(events)).toEqual([]);
  return error;
}

const notFound = (id: string): GrpcErrorExpectation => ({
  code: grpc.status.NOT_FOUND,
  reason: 'TASK_NOT_FOUND',
  messageIncludes: [id],
  metadata: { taskId: id },
});
const invalid = (field: string): GrpcErrorExpectation => ({
  code: grpc.status.INVALID_ARGUMENT,
  reason: 'INVALID_PARAMS',
  field,
});
const noSuchAgent: GrpcErrorExpectation = {
  code: grpc.status.NOT_FOUND,
  reason: 'AGENT_NOT_FOUND',
  messageIncludes: ['"no-such-agent"'],
  metadata: { agent: 'no-such-agent' },
};
const badVersion: GrpcErrorExpectation = {
  code: grpc.status.FAILED_PRECONDITION,
  reason: 'VERSION_NOT_SUPPORTED',
  messageIncludes: ['"9.9"', '1.0'],
};

const CASES: readonly ErrorCase[] = [
  {
    name: 'GetTask on an unknown task → NOT_FOUND / TASK_NOT_FOUND',
    run: (c) => c.raw.unaryError('getTask', { tenant: 'echo', id: UNKNOWN_TASK, historyLength: undefined }),
    expect: () => notFound(UNKNOWN_TASK),
  },
  {
    name: 'CancelTask on an unknown task → NOT_FOUND / TASK_NOT_FOUND',
    run: (c) => c.raw.unaryError('cancelTask', { tenant: 'echo', id: UNKNOWN_TASK, metadata: undefined }),
    expect: () => notFound(UNKNOWN_TASK),
  },
  {
    name: 'SubscribeToTask on an unknown task → NOT_FOUND / TASK_NOT_FOUND, before any event',
    run: (c) => streamError(c, 'subscribeToTask', { tenant: 'echo', id: UNKNOWN_TASK }),
    expect: () => notFound(UNKNOWN_TASK),
  },
  {
    name: 'a task of another agent is NOT_FOUND / TASK_NOT_FOUND',
    run: (c) =>
      c.raw.unaryError('getTask', { tenant: 'countdown', id: c.finished.id, historyLength: undefined }),
    expect: (c) => notFound(c.finished.id),
  },
  {
    name: 'SendMessage without a message → INVALID_ARGUMENT / INVALID_PARAMS (message)',
    run: (c) =>
      c.raw.unaryError('sendMessage', {
        tenant: 'echo',
        message: undefined,
        configuration: undefined,
        metadata: undefined,
      }),
    expect: () => invalid('message'),
  },
  {
    name: 'SendMessage with empty parts → INVALID_ARGUMENT / INVALID_PARAMS (message.parts)',
    run: (c) => {
      const request = send('echo', 'x');
      return c.raw.unaryError('sendMessage', {
        ...request,
        message: { ...(request.message as NonNullable<SendMessageRequest['message']>), parts: [] },
      });
    },
    expect: () => invalid('message.parts'),
  },
  {
    name: 'SendStreamingMessage without a message → INVALID_ARGUMENT (message), before any event',
    run: (c) =>
      streamError(c, 'sendStreamingMessage', {
        tenant: 'countdown',
        message: undefined,
        configuration: undefined,
        metadata: undefined,
      }),
    expect: () => invalid('message'),
  },
  {
    name: 'GetTask with historyLength -1 → INVALID_ARGUMENT / INVALID_PARAMS (historyLength)',
    run: (c) => c.raw.unaryError('getTask', { tenant: 'echo', id: c.finished.id, historyLength: -1 }),
    expect: () => invalid('historyLength'),
  },
  {
    name: 'SendMessage with configuration.historyLength -1 → INVALID_ARGUMENT (configuration.historyLength)',
    run: (c) => c.raw.unaryError('sendMessage', send('echo', 'x', { historyLength: -1 })),
    expect: () => invalid('configuration.historyLength'),
  },
  {
    name: 'ListTasks with pageSize 0 → INVALID_ARGUMENT / INVALID_PARAMS (pageSize)',
    run: (c) =>
      c.raw.unaryError('listTasks', {
        tenant: 'echo',
        contextId: '',
        status: TaskState.TASK_STATE_UNSPECIFIED,
        pageSize: 0,
        pageToken: '',
        historyLength: undefined,
        statusTimestampAfter: undefined,
        includeArtifacts: undefined,
      }),
    expect: () => invalid('pageSize'),
  },
  {
    name: 'an unknown tenant → NOT_FOUND / AGENT_NOT_FOUND naming the agent',
    run: (c) =>
      c.raw.unaryError('getTask', { tenant: 'no-such-agent', id: c.finished.id, historyLength: undefined }),
    expect: () => noSuchAgent,
  },
  {
    name: 'an unknown tenant on a stream → NOT_FOUND / AGENT_NOT_FOUND, before any event',
    run: (c) => streamError(c, 'sendStreamingMessage', send('no-such-agent', 'hello')),
    expect: () => noSuchAgent,
  },
  {
    name: 'an unknown agent with a sub-tenant → NOT_FOUND / AGENT_NOT_FOUND naming the agent',
    run: (c) => c.raw.unaryError('sendMessage', send('no-such-agent/acme', 'hello')),
    expect: () => noSuchAgent,
  },
  {
    name: 'CancelTask on a completed task → FAILED_PRECONDITION / TASK_NOT_CANCELABLE',
    run: (c) => c.raw.unaryError('cancelTask', { tenant: 'echo', id: c.finished.id, metadata: undefined }),
    expect: (c) => ({
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'TASK_NOT_CANCELABLE',
      messageIncludes: [c.finished.id, 'completed'],
      metadata: { taskId: c.finished.id },
    }),
  },
  {
    name: 'SubscribeToTask on a completed task → FAILED_PRECONDITION / UNSUPPORTED_OPERATION',
    run: (c) => streamError(c, 'subscribeToTask', { tenant: 'echo', id: c.finished.id }),
    expect: (c) => ({
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'UNSUPPORTED_OPERATION',
      messageIncludes: [c.finished.id],
    }),
  },
  {
    name: 'GetExtendedAgentCard with none configured → FAILED_PRECONDITION / EXTENDED_AGENT_CARD_NOT_CONFIGURED',
    run: (c) => c.raw.unaryError('getExtendedAgentCard', { tenant: 'echo' }),
    expect: () => ({
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'EXTENDED_AGENT_CARD_NOT_CONFIGURED',
      messageIncludes: ['echo'],
    }),
  },
  {
    name: 'a push config for an agent without push → FAILED_PRECONDITION / PUSH_NOTIFICATION_NOT_SUPPORTED',
    run: (c) =>
      c.raw.unaryError('createTaskPushNotificationConfig', {
        tenant: 'quiet',
        id: '',
        taskId: c.finished.id,
        url: 'http://127.0.0.1:9/hook',
        token: '',
        authentication: undefined,
      }),
    expect: () => ({
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'PUSH_NOTIFICATION_NOT_SUPPORTED',
      messageIncludes: ['quiet'],
    }),
  },
  {
    name: 'A2A-Version 9.9 → FAILED_PRECONDITION / VERSION_NOT_SUPPORTED',
    run: (c) =>
      c.raw.unaryError(
        'getTask',
        { tenant: 'echo', id: c.finished.id, historyLength: undefined },
        { metadata: { 'A2A-Version': '9.9' } },
      ),
    expect: () => badVersion,
  },
  {
    name: 'A2A-Version 9.9 on a stream → FAILED_PRECONDITION / VERSION_NOT_SUPPORTED, before any event',
    run: (c) =>
      streamError(c, 'sendStreamingMessage', send('countdown', 'count to 2'), { 'a2a-version': '9.9' }),
    expect: () => badVersion,
  },
];

describe('gRPC errors carry the status, the message and ErrorInfo', () => {
  let t: TestServer;
  let ctx: Ctx;
  beforeAll(async () => {
    t = await startServer({
      agents: [
        { name: 'echo', kind: 'echo', default: true },
        { name: 'countdown', kind: 'countdown', stepMs: 20 },
        { name: 'quiet', kind: 'echo', pushNotifications: false },
      ],
    });
    const raw = new RawGrpcClient(t.server.grpcAddress as string);
    const finished = taskOf(await raw.unary('sendMessage', send('echo', 'done already')));
    expect(finished.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    ctx = { raw, finished };
  });
  afterAll(async () => {
    ctx.raw.close();
    await t.close();
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expectGrpcError(await c.run(ctx), c.expect(ctx));
    await expectServing(ctx.raw);
  });

  it('a supported A2A-Version is accepted, with or without minor and patch', async () => {
    for (const version of ['1.0', '1', '1.0.0']) {
      const got = await ctx.raw.unary(
        'getTask',
        { tenant: 'echo', id: ctx.finished.id, historyLength: 0 },
        { metadata: { 'a2a-version': version } },
      );
      expect(got.id).toBe(ctx.finished.id);
    }
  });
});

describe('gRPC transport limits and callers that go away', () => {
  let t: TestServer;
  let raw: RawGrpcClient;
  beforeAll(async () => {
    t = await startServer({ server: { grpcMaxMessageBytes: 64 * 1024 } });
    raw = new RawGrpcClient(t.server.grpcAddress as string);
  });
  afterAll(async () => {
    raw.close();
    await t.close();
  });

  const idle = (): boolean => {
    const s = t.server.stats();
    return s.openStreams === 0 && s.subscribers === 0;
  };
  /** Reasons the server logged for streams their clients ended, oldest first. */
  const streamEndReasons = (): unknown[] =>
    t.logs.filter((l) => l.msg === 'gRPC stream ended by the client').map((l) => l.reason);
  const listByContext = (contextId: string): ReturnType<typeof raw.unary<'listTasks'>> =>
    raw.unary('listTasks', {
      tenant: 'countdown',
      contextId,
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: undefined,
      pageToken: '',
      historyLength: undefined,
      statusTimestampAfter: undefined,
      includeArtifacts: true,
    });

  it('a message over grpcMaxMessageBytes is RESOURCE_EXHAUSTED; the next call on the same channel works', async () => {
    const error = await raw.unaryError('sendMessage', send('echo', 'x'.repeat(200 * 1024)));
    expect(grpc.status[error.code], error.details).toBe('RESOURCE_EXHAUSTED');
    expect(error.details).toMatch(/larger than max/i);
    // A request well under the limit (whose answer, text echoed twice, fits too) still passes.
    const under = taskOf(await raw.unary('sendMessage', send('echo', 'y'.repeat(20 * 1024))));
    expect(artifactText(under, 'echo')).toHaveLength(20 * 1024);
    await expectServing(raw);
  });

  it('a client that cancels mid-stream frees its stream and subscriber; the task runs on to COMPLETED', async () => {
    const stream = raw.stream('sendStreamingMessage', send('countdown', 'count to 25'));
    const seen: StreamResponse[] = [];
    while (chunkTexts(seen).length < 1) seen.push((await stream.next()) as StreamResponse);
    const task = firstTask(seen);
    // The server holds this stream and its subscriber while it is open...
    expect(t.server.stats()).toMatchObject({ openStreams: 1, subscribers: 1 });

    const reasonsBefore = streamEndReasons().length;
    stream.cancel();
    const { error } = await stream.failure();
    expect(grpc.status[error.code]).toBe('CANCELLED');
    // ...and lets both go once the client cancels.
    await eventually(idle, 5000, 'the server to release the cancelled stream');
    expect(streamEndReasons().slice(reasonsBefore)).toEqual(['client cancelled']);

    // The task did not stop: a new subscription sees it through to COMPLETED, nothing lost.
    const after = await raw.stream('subscribeToTask', { tenant: 'countdown', id: task.id }).rest();
    const snapshot = firstTask(after);
    expect(stateOf(after[after.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect([...artifactParts(snapshot, 'count'), ...chunkTexts(after.slice(1))]).toEqual(countTo(25));
    await eventually(idle, 5000, 'the server to release the finished subscription');
  });

  it('a deadline that expires mid-stream frees the subscriber the same way; the task runs on', async () => {
    const started = taskOf(
      await raw.unary('sendMessage', send('countdown', 'count to 25', { returnImmediately: true })),
    );
    const reasonsBefore = streamEndReasons().length;
    const stream = raw.stream(
      'subscribeToTask',
      { tenant: 'countdown', id: started.id },
      { deadlineMs: 150 },
    );
    const { events, error } = await stream.failure();
    expect(grpc.status[error.code]).toBe('DEADLINE_EXCEEDED');
    expect(firstTask(events).id).toBe(started.id);
    expect(chunkTexts(events).length).toBeGreaterThan(0);
    expect(chunkTexts(events).length).toBeLessThan(25);
    await eventually(idle, 5000, 'the server to release the expired stream');
    expect(streamEndReasons().slice(reasonsBefore)).toEqual(['deadline exceeded']);

    const after = await raw.stream('subscribeToTask', { tenant: 'countdown', id: started.id }).rest();
    expect(stateOf(after[after.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect([...artifactParts(firstTask(after), 'count'), ...chunkTexts(after.slice(1))]).toEqual(countTo(25));
  });

  it('a blocking SendMessage whose deadline passes cancels the task it started, and says so in the log', async () => {
    const contextId = `deadline-${randomUUID()}`;
    const error = await raw.unaryError('sendMessage', send('countdown', 'count to 50', { contextId }), {
      deadlineMs: 150,
    });
    expect(grpc.status[error.code]).toBe('DEADLINE_EXCEEDED');

    const settled = await eventuallyAsync(
      () => listByContext(contextId),
      (res) => res.tasks.length === 1 && isTerminal(res.tasks[0]?.status?.state),
      5000,
      'the task to end',
    );
    const task = settled.tasks[0] as Task;
    expect(TaskState[task.status?.state ?? 0]).toBe('TASK_STATE_CANCELED');
    expect(artifactParts(task, 'count').length).toBeLessThan(50);

    await eventually(
      () => t.logs.some((l) => l.task_id === task.id && l.level === 40),
      5000,
      'the deadline warning',
    );
    const warning = t.logs.find((l) => l.task_id === task.id && l.level === 40);
    expect(warning).toMatchObject({ method: 'SendMessage', reason: 'deadline exceeded' });
    expect(String(warning?.msg)).toMatch(/cancel/i);
    await eventually(() => t.server.stats().runs === 0, 5000, 'the canceled run to be released');
  });

  it('a blocking SendMessage the client cancels cancels its task too, logged as a client cancel', async () => {
    const contextId = `abandoned-${randomUUID()}`;
    const abort = new AbortController();
    const call = raw.unaryError('sendMessage', send('countdown', 'count to 50', { contextId }), {
      signal: abort.signal,
    });
    // Cancel once the task exists and is working.
    const running = await eventuallyAsync(
      () => listByContext(contextId),
      (res) => res.tasks[0]?.status?.state === TaskState.TASK_STATE_WORKING,
      5000,
      'the task to start working',
    );
    abort.abort();
    expect(grpc.status[(await call).code]).toBe('CANCELLED');

    const id = (running.tasks[0] as Task).id;
    const settled = await eventuallyAsync(
      () => listByContext(contextId),
      (res) => isTerminal(res.tasks[0]?.status?.state),
      5000,
      'the task to end',
    );
    expect(TaskState[settled.tasks[0]?.status?.state ?? 0]).toBe('TASK_STATE_CANCELED');
    await eventually(() => t.logs.some((l) => l.task_id === id && l.level === 40), 5000, 'the warning');
    expect(t.logs.find((l) => l.task_id === id && l.level === 40)).toMatchObject({
      method: 'SendMessage',
      reason: 'client cancelled',
    });
  });

  describe('gzip-compressed requests', () => {
    let proxy: ByteCountingProxy;
    let gzip: RawGrpcClient;
    let plain: RawGrpcClient;
    beforeAll(async () => {
      proxy = await startByteCountingProxy(t.server.grpcAddress as string);
      gzip = new RawGrpcClient(proxy.address, {
        'grpc.default_compression_algorithm': 2,
        'grpc.default_compression_level': 2,
      });
      plain = new RawGrpcClient(proxy.address);
    });
    afterAll(async () => {
      gzip.close();
      plain.close();
      await proxy.close();
    });

    it('are accepted and answered correctly, and really are compressed on the wire', async () => {
      // ~21 KB and very repetitive; the answer (the text in history and in the artifact) fits the 64 KiB limit.
      const text = 'compress me, please. '.repeat(1000);
      const before = proxy.bytesToServer();
      const task = taskOf(await gzip.unary('sendMessage', send('echo', text)));
      const gzipBytes = proxy.bytesToServer() - before;
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactText(task, 'echo')).toBe(text);

      const again = proxy.bytesToServer();
      const plainTask = taskOf(await plain.unary('sendMessage', send('echo', text)));
      const plainBytes = proxy.bytesToServer() - again;
      expect(artifactText(plainTask, 'echo')).toBe(text);
      expect(plainBytes).toBeGreaterThan(text.length);
      expect(gzipBytes).toBeLessThan(plainBytes / 5);
    });

    it('compressed stream requests and compressed failing requests work too', async () => {
      const events = await gzip.stream('sendStreamingMessage', send('countdown', 'count to 3')).rest();
      expect(chunkTexts(events)).toEqual(countTo(3));
      expect(stateOf(events[events.length - 1] as StreamResponse)).toBe(TaskState.TASK_STATE_COMPLETED);
      expectGrpcError(
        await gzip.unaryError('getTask', { tenant: 'echo', id: UNKNOWN_TASK, historyLength: undefined }),
        notFound(UNKNOWN_TASK),
      );
    });
  });
});

interface ByteCountingProxy {
  readonly address: string;
  /** Bytes clients have sent through the proxy so far. */
  bytesToServer(): number;
  close(): Promise<void>;
}

/** A TCP pass-through in front of the gRPC port that counts what clients send. */
async function startByteCountingProxy(target: string): Promise<ByteCountingProxy> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon);
  const port = Number(target.slice(colon + 1));
  let upstream = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const backend = connect(port, host);
    for (const s of [client, backend]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        backend.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      upstream += chunk.length;
    });
    client.pipe(backend);
    backend.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('proxy has no address');
  return {
    address: `127.0.0.1:${address.port}`,
    bytesToServer: () => upstream,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
