/**
 * A SendMessage whose messageId was accepted before (same agent, tenant and task) is not
 * run again: it is answered from what that message produced, at its current state, on
 * every transport and on every replica. A client retrying after a timeout never runs work
 * twice.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Message, SendMessageRequest } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORTS, asTask, collect, messageRequest, messageText } from '../helpers/interop.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, waitForTaskState } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { messageKey } from '../../src/engine/admission.js';
import { taskRecord } from '../../src/engine/message-record.js';

const COUNTING = resolve('test/fixtures/counting-agent.mjs');

function again(
  request: SendMessageRequest,
  changes: Partial<SendMessageRequest['configuration']> = {},
): SendMessageRequest {
  return {
    ...request,
    configuration: request.configuration ? { ...request.configuration, ...changes } : undefined,
  };
}

describe.each(TRANSPORTS)('a message sent twice over %s', (transport) => {
  let t: TestServer;
  let client: Client;
  beforeAll(async () => {
    t = await startServer({
      agents: [
        { name: 'counter', kind: 'module', module: COUNTING, default: true },
        { name: 'echo', kind: 'echo' },
      ],
      execution: { maxConcurrentWorkflows: 1, maxQueueDepth: 0 },
    });
    client = await clientFor(t.agentUrl('counter'), transport);
  });
  afterAll(() => t.close());

  it('is answered from the task it produced, without running the agent again', async () => {
    const request = messageRequest('hello');
    const first = asTask(await client.sendMessage(request));
    const second = asTask(await client.sendMessage(request));
    expect(second.id).toBe(first.id);
    expect(second.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(messageText(second.status?.message)).toBe(messageText(first.status?.message));
    // A new message runs the agent once more: the repeat did not run it.
    const next = asTask(await client.sendMessage(messageRequest('hello')));
    const n = (m: Message | undefined): number => Number(messageText(m).replace('run #', ''));
    expect(n(next.status?.message)).toBe(n(first.status?.message) + 1);
    const listed = await client.listTasks({
      tenant: '',
      contextId: first.contextId,
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 10,
      pageToken: '',
      historyLength: undefined,
      statusTimestampAfter: undefined,
      includeArtifacts: false,
    });
    expect(listed.tasks.map((x) => x.id)).toEqual([first.id]);
  });

  it('while its task still works, the repeat answers the task as it is now', async () => {
    const request = messageRequest('slow', { returnImmediately: true });
    const first = asTask(await client.sendMessage(request));
    const repeat = asTask(await client.sendMessage(again(request, { returnImmediately: false })));
    expect(repeat.id).toBe(first.id);
    expect(repeat.status?.state).not.toBe(TaskState.TASK_STATE_FAILED);
    const done = await waitForTaskState(client, first.id, TaskState.TASK_STATE_COMPLETED);
    expect(messageText(done.status?.message)).toMatch(/^run #\d+$/);
  });

  it('a message answered with a direct reply gets the same reply again', async () => {
    const request = messageRequest('reply please');
    const first = await client.sendMessage(request);
    const second = await client.sendMessage(request);
    expect('parts' in first && 'parts' in second).toBe(true);
    expect(second).toEqual(first);
  });

  it('as a stream, the repeat streams the task it produced', async () => {
    const request = messageRequest('hello stream');
    const first = asTask(await client.sendMessage(request));
    const events = await collect(client.sendMessageStream(request));
    expect(events).toHaveLength(1);
    const only = events[0]?.payload;
    expect(only?.$case).toBe('task');
    expect(only?.$case === 'task' && only.value.id).toBe(first.id);
  });

  it('a message whose recorded task is gone (a failed release, or retention) runs again', async () => {
    const request = messageRequest('hello again');
    const key = messageKey('counter', '', '', request.message?.messageId ?? '', '');
    // As if an earlier admission of this message failed and could not release its record.
    await t.server.store.messages.claim(key, taskRecord('no-such-task', Date.now() - 60_000), 60_000);
    const ran = asTask(await client.sendMessage(request));
    expect(ran.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(ran.id).not.toBe('no-such-task');
    const again = asTask(await client.sendMessage(request));
    expect(again.id).toBe(ran.id);
  });

  it('a message refused (queue full) was not accepted: sent again later, it runs', async () => {
    // One worker, no queue: a second task while the first works is refused.
    const busy = asTask(await client.sendMessage(messageRequest('slow', { returnImmediately: true })));
    const request = messageRequest('after the wait');
    await expect(client.sendMessage(request)).rejects.toThrow(/busy|queue/i);
    await waitForTaskState(client, busy.id, TaskState.TASK_STATE_COMPLETED);
    const ran = asTask(await client.sendMessage(request));
    expect(ran.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(ran.id).not.toBe(busy.id);
  });
});

describe('a message sent again to another replica', () => {
  let redis: RedisProcess;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    const config = {
      agents: [{ name: 'counter', kind: 'module', module: COUNTING, default: true }],
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'idempotent-test:' } },
    };
    a = await startServer(config);
    b = await startServer(config);
  }, 300_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('is answered there from the task the first replica ran', async () => {
    const onA = await clientFor(a.agentUrl('counter'));
    const onB = await clientFor(b.agentUrl('counter'));
    const request = messageRequest('hello');
    const first = asTask(await onA.sendMessage(request));
    const second = asTask(await onB.sendMessage(request));
    expect(second.id).toBe(first.id);
    expect(messageText(second.status?.message)).toBe(messageText(first.status?.message));
    // Sent again to B while A still runs it and has stored nothing yet: B waits for it.
    const quiet = messageRequest('quiet');
    const running = onA.sendMessage(quiet);
    const early = asTask(await onB.sendMessage(quiet));
    const done = asTask(await running);
    expect(early.id).toBe(done.id);
    expect(messageText(done.status?.message)).toMatch(/^run #\d+$/);
    const reply = messageRequest('reply');
    const r1 = await onA.sendMessage(reply);
    const r2 = await onB.sendMessage(reply);
    expect(r2).toEqual(r1);
  });
});

describe('with execution.dedupeMessageIds off', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      agents: [{ name: 'counter', kind: 'module', module: COUNTING, default: true }],
      execution: { dedupeMessageIds: false },
    });
  });
  afterAll(() => t.close());

  it('a message sent twice runs twice', async () => {
    const client = await clientFor(t.agentUrl('counter'));
    const request = messageRequest('hello');
    const first = asTask(await client.sendMessage(request));
    const second = asTask(await client.sendMessage(request));
    expect(second.id).not.toBe(first.id);
    expect(messageText(second.status?.message)).not.toBe(messageText(first.status?.message));
  });
});
