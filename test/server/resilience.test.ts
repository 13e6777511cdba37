/**
 * The server under abuse: every bad request at once while a real task runs (nothing
 * crashes, the task is untouched), an executor that throws (its task FAILS with a
 * readable message, the server keeps serving), and a full work queue (the retryable
 * QUEUE_FULL error on both bindings, and the queued task runs when a worker frees up).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCase, JSONRPC_CASES, REST_CASES, type BadRequestContext } from '../helpers/bad-requests.js';
import { DEMO_AGENTS, eventually, startServer, type TestServer } from '../helpers/server.js';
import {
  eventState,
  expectRestError,
  expectRpcError,
  messageJson,
  postRpc,
  rawExchange,
  rest,
  restStream,
  rpc,
  rpcBody,
  rpcStream,
  streamPayload,
  type SseFrame,
  type WireResponse,
} from '../helpers/wire.js';

const LIMIT = 64 * 1024;

describe('bad input never hurts the process or another task', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ server: { bodyLimitBytes: LIMIT } });
  });
  afterAll(() => t.close());

  it('a countdown completes intact while every bad request is fired at the same server', async () => {
    const done = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('finished') });
    const ctx: BadRequestContext = { url: t.url, agent: 'echo', finishedTaskId: done.json.result.task.id };

    const N = 150; // 150 steps of 20 ms: the barrage below lands while it runs
    const stream = await rpcStream(t.url, 'countdown', 'SendStreamingMessage', {
      message: messageJson(`count to ${N}`),
    });
    const firstEvent = (await stream.nextEvent()) as SseFrame;
    const task = streamPayload(firstEvent).task;
    const userMessageId = task.history[0].messageId as string;

    const cases = [...JSONRPC_CASES, ...REST_CASES];
    const big = { message: messageJson('x'.repeat(LIMIT + 1)) };
    const extra: Array<{ name: string; run: () => Promise<void> }> = [
      {
        name: 'JSON-RPC oversized body',
        run: async () =>
          expectRpcError(await rpc(t.url, 'countdown', 'SendMessage', big), {
            http: 413,
            code: -32600,
            reason: 'PAYLOAD_TOO_LARGE',
          }),
      },
      {
        name: 'HTTP+JSON oversized body',
        run: async () =>
          expectRestError(await rest(t.url, 'countdown', 'POST', '/message:send', big), {
            http: 413,
            status: 'RESOURCE_EXHAUSTED',
            reason: 'PAYLOAD_TOO_LARGE',
          }),
      },
      {
        name: 'huge Content-Length, tiny body',
        run: async () => {
          const head = `POST /a2a/countdown/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`;
          expect((await rawExchange(t.url, head, '{')).statusLine).toMatch(/^HTTP\/1\.1 413 /);
        },
      },
      {
        name: 'a follow-up message to the running task',
        run: async () =>
          expectRpcError(
            await rpc(t.url, 'countdown', 'SendMessage', {
              message: messageJson('stop', { taskId: task.id }),
            }),
            {
              code: -32004,
              reason: 'UNSUPPORTED_OPERATION',
            },
          ),
      },
      {
        name: 'a follow-up in a different context, over HTTP+JSON',
        run: async () =>
          expectRestError(
            await rest(t.url, 'countdown', 'POST', '/message:send', {
              message: messageJson('x', { taskId: task.id, contextId: 'other' }),
            }),
            { http: 400, status: 'FAILED_PRECONDITION', reason: 'UNSUPPORTED_OPERATION' },
          ),
      },
      {
        name: 'the running task under another tenant',
        run: async () =>
          expectRestError(await rest(t.url, 'countdown', 'POST', `/evil/tasks/${task.id}:cancel`), {
            http: 404,
            status: 'NOT_FOUND',
            reason: 'TASK_NOT_FOUND',
          }),
      },
      {
        name: 'the running task through another agent',
        run: async () =>
          expectRpcError(await rpc(t.url, 'echo', 'CancelTask', { id: task.id }), {
            code: -32001,
            reason: 'TASK_NOT_FOUND',
          }),
      },
      {
        name: 'a garbage Last-Event-ID on the running task',
        run: async () =>
          expectRpcError(
            await rpc(t.url, 'countdown', 'SubscribeToTask', { id: task.id }, { 'last-event-id': '-3' }),
            {
              code: -32602,
              reason: 'INVALID_PARAMS',
              field: 'Last-Event-ID',
            },
          ),
      },
      {
        name: 'a body that is not UTF-8 JSON',
        run: async () => {
          const res = await postRpc(t.url, 'countdown', new Uint8Array([0xff, 0xfe, 0x00, 0x7b]), {
            'content-type': 'application/json',
          });
          expectRpcError(res, { code: -32700, reason: 'PARSE_ERROR', id: null });
        },
      },
      {
        name: 'deeply nested params',
        run: async () => {
          const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
          const res = await postRpc(
            t.url,
            'countdown',
            `{"jsonrpc":"2.0","id":1,"method":"GetTask","params":${deep}}`,
          );
          expectRpcError(res, { code: -32602, reason: 'INVALID_PARAMS', field: 'id' });
        },
      },
    ];

    const results = await Promise.allSettled([
      ...cases.map(async (c) => checkCase(c, await c.send(ctx))),
      ...extra.map((e) => e.run()),
    ]);
    const failures = results
      .map((r, i) => ({ r, name: i < cases.length ? cases[i]?.name : extra[i - cases.length]?.name }))
      .filter((x) => x.r.status === 'rejected')
      .map((x) => `${x.name}: ${String((x.r as PromiseRejectedResult).reason)}`);
    expect(failures).toEqual([]);

    // The barrage landed while the countdown was still running.
    const mid = await rpc(t.url, 'countdown', 'GetTask', { id: task.id });
    expect(mid.json.result.status.state).toBe('TASK_STATE_WORKING');

    const events = [firstEvent, ...(await stream.rest())];
    events.forEach((e, i) => expect(Number(e.id)).toBe(i + 1));
    expect(eventState(events[events.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    const chunks = events.map(streamPayload).filter((p) => p.artifactUpdate);
    const expected = Array.from({ length: N }, (_, i) => `${i + 1}\n`);
    expect(chunks.map((p) => p.artifactUpdate.artifact.parts[0].text)).toEqual(expected);

    const final = await rpc(t.url, 'countdown', 'GetTask', { id: task.id });
    const stored = final.json.result;
    expect(stored.status.state).toBe('TASK_STATE_COMPLETED');
    expect(stored.artifacts).toHaveLength(1);
    expect(stored.artifacts[0].parts.map((p: { text: string }) => p.text)).toEqual(expected);
    // The refused follow-ups left no trace in the history: one user message, ours.
    const userMessages = stored.history.filter((m: { role: string }) => m.role === 'ROLE_USER');
    expect(userMessages.map((m: { messageId: string }) => m.messageId)).toEqual([userMessageId]);

    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    await eventually(
      () => t.server.stats().openStreams === 0 && t.server.stats().subscribers === 0,
      5000,
      'streams released',
    );
    expect(t.server.stats()).toMatchObject({ running: 0, queued: 0, runs: 0 });
  });
});

describe('an executor that throws', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      agents: [...DEMO_AGENTS, { name: 'boom', kind: 'module', module: 'test/fixtures/throwing-agent.mjs' }],
    });
  });
  afterAll(() => t.close());

  const statusText = (task: { status: { message?: { parts: Array<{ text?: string }> } } }): string =>
    (task.status.message?.parts ?? []).map((p) => p.text ?? '').join('');

  it('JSON-RPC SendMessage: the task is FAILED with a readable status message', async () => {
    const res = await rpc(t.url, 'boom', 'SendMessage', { message: messageJson('go') });
    expect(res.status).toBe(200);
    expect(res.json.error).toBeUndefined();
    const task = res.json.result.task;
    expect(task.status.state).toBe('TASK_STATE_FAILED');
    expect(statusText(task)).toBe('Agent "boom" failed: kaboom after working');
    const got = await rpc(t.url, 'boom', 'GetTask', { id: task.id });
    expect(got.json.result.status.state).toBe('TASK_STATE_FAILED');
  });

  it('HTTP+JSON message:send, throwing before any event: FAILED with the message', async () => {
    const res = await rest(t.url, 'boom', 'POST', '/message:send', { message: messageJson('early') });
    expect(res.status).toBe(200);
    expect(res.json.task.status.state).toBe('TASK_STATE_FAILED');
    expect(statusText(res.json.task)).toBe('Agent "boom" failed: kaboom before any event');
  });

  it('a thrown non-Error still gives a readable message', async () => {
    const res = await rpc(t.url, 'boom', 'SendMessage', { message: messageJson('string') });
    expect(res.json.result.task.status.state).toBe('TASK_STATE_FAILED');
    expect(statusText(res.json.result.task)).toBe('Agent "boom" failed: a bare string was thrown');
  });

  it('streaming: the stream ends cleanly with the FAILED status', async () => {
    for (const open of [
      () => rpcStream(t.url, 'boom', 'SendStreamingMessage', { message: messageJson('go') }),
      () => restStream(t.url, 'boom', 'POST', '/message:stream', { message: messageJson('go') }),
    ]) {
      const events = await (await open()).rest();
      const last = events[events.length - 1] as SseFrame;
      expect(last.event).toBeUndefined();
      expect(eventState(last)).toBe('TASK_STATE_FAILED');
      expect(statusText(streamPayload(last).statusUpdate)).toContain('kaboom after working');
    }
  });

  it('the server keeps serving, and logged the failure', async () => {
    const echo = await rpc(t.url, 'echo', 'SendMessage', { message: messageJson('still alive') });
    expect(echo.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    const counted = await rest(t.url, 'countdown', 'POST', '/message:send', {
      message: messageJson('count to 2'),
    });
    expect(counted.json.task.status.state).toBe('TASK_STATE_COMPLETED');
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    expect(t.server.stats()).toMatchObject({ running: 0, queued: 0 });
    const failed = t.logs.filter((l) => l.msg === 'agent failed' && l.agent_name === 'boom');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    const list = await rpc(t.url, 'boom', 'ListTasks', { status: 'TASK_STATE_FAILED' });
    expect(list.json.result.tasks.length).toBeGreaterThanOrEqual(4);
  });
});

describe('QUEUE_FULL (maxConcurrentWorkflows 1, maxQueueDepth 1)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      agents: [{ name: 'q', kind: 'countdown', stepMs: 200 }],
      execution: { maxConcurrentWorkflows: 1, maxQueueDepth: 1 },
    });
  });
  afterAll(() => t.close());

  const retryable = { reason: 'QUEUE_FULL' } as const;
  function expectQueueFullInfo(info: Record<string, unknown>): void {
    expect(info).toMatchObject({ ...retryable, domain: 'a2a-protocol.org', metadata: { retryable: 'true' } });
  }

  it('refuses the third task with a retryable error on both bindings; the queued one runs after the first', async () => {
    const order: string[] = [];
    // First task: running (we hold its stream).
    const first = await rpcStream(t.url, 'q', 'SendStreamingMessage', { message: messageJson('count to 4') });
    const firstTask = streamPayload((await first.nextEvent()) as SseFrame).task;
    await eventually(() => t.server.stats().running === 1, 5000, 'first task running');

    // Second task: queued behind it (a blocking SendMessage that waits for its turn).
    const second = rpc(t.url, 'q', 'SendMessage', { message: messageJson('count to 2') }).then((r) => {
      order.push('second done');
      return r;
    });
    await eventually(() => t.server.stats().queued === 1, 5000, 'second task queued');
    const submitted = await rpc(t.url, 'q', 'ListTasks', { status: 'TASK_STATE_SUBMITTED' });
    expect(submitted.json.result.tasks).toHaveLength(1);
    const secondId = submitted.json.result.tasks[0].id as string;

    // Third task: refused, on every entry point.
    const viaRpc = await rpc(t.url, 'q', 'SendMessage', { message: messageJson('count to 1') });
    expectRpcError(viaRpc, { http: 503, code: -32051, reason: 'QUEUE_FULL' });
    expectQueueFullInfo(viaRpc.json.error.data[0]);

    const viaRpcStream = await postRpc(
      t.url,
      'q',
      rpcBody('SendStreamingMessage', { message: messageJson('count to 1') }),
    );
    expectRpcError(viaRpcStream, { http: 503, code: -32051, reason: 'QUEUE_FULL' });

    const viaRest = await rest(t.url, 'q', 'POST', '/message:send', { message: messageJson('count to 1') });
    expectRestError(viaRest, { http: 503, status: 'RESOURCE_EXHAUSTED', reason: 'QUEUE_FULL' });
    expectQueueFullInfo(viaRest.json.error.details[0]);

    const viaRestStream: WireResponse = await rest(t.url, 'q', 'POST', '/message:stream', {
      message: messageJson('count to 1'),
    });
    expectRestError(viaRestStream, { http: 503, status: 'RESOURCE_EXHAUSTED', reason: 'QUEUE_FULL' });

    // Refused tasks were never created.
    const all = await rpc(t.url, 'q', 'ListTasks', {});
    expect(all.json.result.tasks.map((x: { id: string }) => x.id).sort()).toEqual(
      [firstTask.id, secondId].sort(),
    );
    expect(t.server.stats()).toMatchObject({ running: 1, queued: 1 });
    const stillQueued = await rpc(t.url, 'q', 'GetTask', { id: secondId });
    expect(stillQueued.json.result.status.state).toBe('TASK_STATE_SUBMITTED');

    // The first finishes; then the queued one runs to completion.
    const rest1 = await first.rest();
    expect(eventState(rest1[rest1.length - 1] as SseFrame)).toBe('TASK_STATE_COMPLETED');
    order.push('first done');
    const secondResult = await second;
    expect(secondResult.json.result.task.id).toBe(secondId);
    expect(secondResult.json.result.task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(order).toEqual(['first done', 'second done']);

    // Capacity is back.
    const again = await rest(t.url, 'q', 'POST', '/message:send', { message: messageJson('count to 1') });
    expect(again.status).toBe(200);
    expect(again.json.task.status.state).toBe('TASK_STATE_COMPLETED');
  });
});
