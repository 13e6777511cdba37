/**
 * What the owner and the admin do with a task over each binding (create, read, list, cancel,
 * push configs), on the same wire primitives as the refusals in ownership-wire-ops.ts.
 */
import { randomUUID } from 'node:crypto';
import { Client as McpClient, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { TaskState } from '@a2a-js/sdk';
import { expect } from 'vitest';
import { listRequest, messageRequest, pushConfig } from '../helpers/interop.js';
import { eventually } from '../helpers/server.js';
import { messageJson } from '../helpers/wire.js';
import {
  grpcMeta,
  HOOK_URL,
  restCall,
  rpcCall,
  type Binding,
  type Caller,
  type Created,
  type Target,
} from './ownership-wire-ops.js';

/**
 * Starts a countdown task as `caller` (answered at once, the task still running); the message
 * has a fresh id unless `messageId` is given, and names `contextId` when given.
 */
export async function createTask(
  binding: Binding,
  t: Target,
  caller: Caller,
  text: string,
  messageId: string = randomUUID(),
  contextId = '',
): Promise<Created> {
  const configuration = { returnImmediately: true };
  const extra = { messageId, ...(contextId ? { contextId } : {}) };
  if (binding === 'grpc') {
    const base = messageRequest(text, { returnImmediately: true, contextId });
    const request = { ...base, message: base.message && { ...base.message, messageId }, tenant: t.agent };
    const res = await caller.grpc.unary('sendMessage', request, grpcMeta(caller));
    if (res.payload?.$case !== 'task') throw new Error(`expected a task, got ${JSON.stringify(res)}`);
    return { id: res.payload.value.id, contextId: res.payload.value.contextId };
  }
  const res =
    binding === 'jsonrpc'
      ? await rpcCall(t, caller, 'SendMessage', { message: messageJson(text, extra), configuration })
      : await restCall(t, caller, 'POST', '/message:send', {
          message: messageJson(text, extra),
          configuration,
        });
  expect(res.status, res.text).toBe(200);
  const task = binding === 'jsonrpc' ? res.json.result.task : res.json.task;
  expect(task.id, res.text).toBeTypeOf('string');
  return { id: task.id, contextId: task.contextId };
}

/** The task's state name as `caller` reads it (GetTask). */
export async function stateOf(binding: Binding, t: Target, caller: Caller, id: string): Promise<string> {
  if (binding === 'grpc') {
    const task = await caller.grpc.unary(
      'getTask',
      { tenant: t.agent, id, historyLength: 0 },
      grpcMeta(caller),
    );
    return TaskState[task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED];
  }
  const res =
    binding === 'jsonrpc'
      ? await rpcCall(t, caller, 'GetTask', { id })
      : await restCall(t, caller, 'GET', `/tasks/${id}`);
  expect(res.status, res.text).toBe(200);
  return (binding === 'jsonrpc' ? res.json.result : res.json).status.state;
}

/** The ids of the tasks `caller` lists in a context, or in all (`''`) (ListTasks). */
export async function listedIds(
  binding: Binding,
  t: Target,
  caller: Caller,
  contextId: string,
): Promise<string[]> {
  if (binding === 'grpc') {
    const page = await caller.grpc.unary(
      'listTasks',
      listRequest({ tenant: t.agent, contextId, pageSize: 100 }),
      grpcMeta(caller),
    );
    // One page holds them all: its totalSize counts what the caller may see, nothing more.
    expect(page.nextPageToken).toBe('');
    expect(page.totalSize).toBe(page.tasks.length);
    return page.tasks.map((task) => task.id);
  }
  const res =
    binding === 'jsonrpc'
      ? await rpcCall(t, caller, 'ListTasks', { contextId, pageSize: 100 })
      : await restCall(
          t,
          caller,
          'GET',
          `/tasks?${new URLSearchParams({ contextId, pageSize: '100' }).toString()}`,
        );
  expect(res.status, res.text).toBe(200);
  const page = binding === 'jsonrpc' ? res.json.result : res.json;
  expect(page.nextPageToken ?? '', res.text).toBe('');
  expect(page.totalSize ?? 0, res.text).toBe(page.tasks.length);
  return (page.tasks as Array<{ id: string }>).map((x) => x.id);
}

/** CancelTask as `caller`; the state it answers with. */
export async function cancel(binding: Binding, t: Target, caller: Caller, id: string): Promise<string> {
  if (binding === 'grpc') {
    const task = await caller.grpc.unary(
      'cancelTask',
      { tenant: t.agent, id, metadata: undefined },
      grpcMeta(caller),
    );
    return TaskState[task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED];
  }
  const res =
    binding === 'jsonrpc'
      ? await rpcCall(t, caller, 'CancelTask', { id })
      : await restCall(t, caller, 'POST', `/tasks/${id}:cancel`, {});
  expect(res.status, res.text).toBe(200);
  return (binding === 'jsonrpc' ? res.json.result : res.json).status.state;
}

/** Creates the push config `hook` on the task as `caller`. */
export async function addHook(binding: Binding, t: Target, caller: Caller, id: string): Promise<void> {
  if (binding === 'grpc') {
    const created = await caller.grpc.unary(
      'createTaskPushNotificationConfig',
      pushConfig({ tenant: t.agent, taskId: id, id: 'hook', url: HOOK_URL }),
      grpcMeta(caller),
    );
    expect(created.id).toBe('hook');
    return;
  }
  const res =
    binding === 'jsonrpc'
      ? await rpcCall(t, caller, 'CreateTaskPushNotificationConfig', {
          taskId: id,
          id: 'hook',
          url: HOOK_URL,
        })
      : await restCall(t, caller, 'POST', `/tasks/${id}/pushNotificationConfigs`, {
          id: 'hook',
          url: HOOK_URL,
        });
  // HTTP+JSON answers a created resource with 201.
  expect(res.status, res.text).toBe(binding === 'rest' ? 201 : 200);
  expect((binding === 'jsonrpc' ? res.json.result : res.json).id).toBe('hook');
}

/** The push config ids of the task as `caller` lists them. */
export async function hookIds(binding: Binding, t: Target, caller: Caller, id: string): Promise<string[]> {
  if (binding === 'grpc') {
    const page = await caller.grpc.unary(
      'listTaskPushNotificationConfigs',
      { tenant: t.agent, taskId: id, pageSize: 0, pageToken: '' },
      grpcMeta(caller),
    );
    return page.configs.map((c) => c.id);
  }
  const res =
    binding === 'jsonrpc'
      ? await rpcCall(t, caller, 'ListTaskPushNotificationConfigs', { taskId: id })
      : await restCall(t, caller, 'GET', `/tasks/${id}/pushNotificationConfigs`);
  expect(res.status, res.text).toBe(200);
  return ((binding === 'jsonrpc' ? res.json.result : res.json).configs as Array<{ id: string }>).map(
    (c) => c.id,
  );
}

/**
 * `owner` starts a long countdown tool call on /mcp; `other`, from the same address with the
 * same client software, sends `notifications/cancelled` for every request id the owner's
 * client can have used: the call goes on counting. The same notifications from the owner do
 * end it and cancel its task (so they did name the call). Returns the owner's MCP client (to
 * close).
 */
export async function expectMcpCancelRefused(t: Target, owner: Caller, other: Caller): Promise<McpClient> {
  // Two users of the same MCP client behind the same address (loopback here, a NAT or proxy in real life).
  const userAgent = 'shared-mcp-app/1.0';
  const client = new McpClient({ name: 'ownership-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', t.url), {
      requestInit: { headers: { ...owner.headers, 'user-agent': userAgent } },
      fetch: (url, init) => owner.fetch(String(url), init ?? {}),
    }),
  );
  let taskId = '';
  let steps = 0;
  const waiters: Array<{ at: number; resolve: () => void }> = [];
  const reached = (n: number): Promise<void> =>
    new Promise((resolve) => (steps >= n ? resolve() : waiters.push({ at: n, resolve })));
  const call = client.callTool(
    { name: `${t.agent}__${t.agent}`, arguments: { text: 'count to 1000' } },
    {
      timeout: 120_000,
      onprogress: (p) => {
        taskId ||= String((p as { _meta?: Record<string, unknown> })._meta?.['agentd/taskId'] ?? '');
        steps += 1;
        for (const w of waiters.filter((x) => steps >= x.at)) w.resolve();
      },
    },
  );
  const ended = call.then(
    () => 'ended',
    () => 'ended',
  );
  await reached(2);
  const cancelAll = async (caller: Caller): Promise<void> => {
    const res = await caller.fetch(`${t.url}/mcp`, {
      method: 'POST',
      headers: {
        ...caller.headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'user-agent': userAgent,
      },
      body: JSON.stringify(
        Array.from({ length: 20 }, (_, requestId) => ({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId, reason: 'not yours' },
        })),
      ),
    });
    await res.text();
  };
  await cancelAll(other);
  // The call keeps streaming progress: the agent counts on.
  expect(await Promise.race([reached(steps + 4).then(() => 'counting'), ended])).toBe('counting');
  expect(await stateOf('jsonrpc', t, owner, taskId)).toBe('TASK_STATE_WORKING');
  await cancelAll(owner);
  expect(await ended).toBe('ended');
  await eventually(
    async () => (await stateOf('jsonrpc', t, owner, taskId)) === 'TASK_STATE_CANCELED',
    15_000,
    'the owner’s own cancellation to cancel the task',
  );
  return client;
}
