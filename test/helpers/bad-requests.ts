/**
 * The catalogue of bad requests, each with the exact error it must produce, on both HTTP
 * bindings. The protocol tests run each case on its own; the resilience test fires all
 * of them at once at a server that is busy with a real task.
 */
import {
  expectRestError,
  expectRpcError,
  messageJson,
  postRpc,
  readResponse,
  rest,
  rpc,
  rpcBody,
  type RestErrorExpectation,
  type RpcErrorExpectation,
  type WireResponse,
} from './wire.js';

export interface BadRequestContext {
  readonly url: string;
  /** An agent with streaming and push notifications (the default demo `echo` works). */
  readonly agent: string;
  /** A COMPLETED task of `agent`. */
  readonly finishedTaskId: string;
}

export type BadRequestCase =
  | {
      readonly name: string;
      readonly binding: 'jsonrpc';
      send(ctx: BadRequestContext): Promise<WireResponse>;
      readonly expect: RpcErrorExpectation;
    }
  | {
      readonly name: string;
      readonly binding: 'rest';
      send(ctx: BadRequestContext): Promise<WireResponse>;
      readonly expect: RestErrorExpectation;
    };

/** Asserts the response a case produced. */
export function checkCase(c: BadRequestCase, res: WireResponse): void {
  if (c.binding === 'jsonrpc') expectRpcError(res, c.expect);
  else expectRestError(res, c.expect);
}

const unknownTask = '00000000-0000-4000-8000-00000000dead';
const hook = 'http://127.0.0.1:9/hook';

const invalidParams = (field: string, id?: unknown): RpcErrorExpectation => ({
  code: -32602,
  reason: 'INVALID_PARAMS',
  field,
  ...(id !== undefined ? { id } : {}),
});
const restInvalid = (field: string): RestErrorExpectation => ({
  http: 400,
  status: 'INVALID_ARGUMENT',
  reason: 'INVALID_PARAMS',
  field,
});
const rpcNotFound: RpcErrorExpectation = {
  code: -32001,
  reason: 'TASK_NOT_FOUND',
  messageIncludes: [unknownTask],
};
const restNotFound: RestErrorExpectation = {
  http: 404,
  status: 'NOT_FOUND',
  reason: 'TASK_NOT_FOUND',
  messageIncludes: [unknownTask],
};

const send = (message: unknown, configuration?: Record<string, unknown>): Record<string, unknown> => ({
  message,
  ...(configuration ? { configuration } : {}),
});

/** JSON-RPC cases (A2A §9, §5.4). */
export const JSONRPC_CASES: readonly BadRequestCase[] = [
  // -32700
  {
    name: 'malformed JSON → -32700 with id null',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, c.agent, '{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{'),
    expect: { code: -32700, reason: 'PARSE_ERROR', id: null },
  },
  // -32600
  {
    name: 'missing "jsonrpc" → -32600 (id echoed)',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, c.agent, { id: 7, method: 'GetTask', params: { id: unknownTask } }),
    expect: { code: -32600, reason: 'INVALID_REQUEST', id: 7, field: 'jsonrpc' },
  },
  {
    name: 'jsonrpc "1.0" → -32600',
    binding: 'jsonrpc',
    send: (c) =>
      postRpc(c.url, c.agent, { jsonrpc: '1.0', id: 'a', method: 'GetTask', params: { id: unknownTask } }),
    expect: { code: -32600, reason: 'INVALID_REQUEST', id: 'a', field: 'jsonrpc' },
  },
  {
    name: 'method is not a string → -32600',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, c.agent, { jsonrpc: '2.0', id: 8, method: 42, params: {} }),
    expect: { code: -32600, reason: 'INVALID_REQUEST', id: 8, field: 'method' },
  },
  {
    name: 'batch (JSON array) → -32600 with id null',
    binding: 'jsonrpc',
    send: (c) =>
      postRpc(c.url, c.agent, [
        rpcBody('GetTask', { id: unknownTask }, 1),
        rpcBody('GetTask', { id: unknownTask }, 2),
      ]),
    expect: { code: -32600, reason: 'INVALID_REQUEST', id: null },
  },
  {
    name: 'id is an object → -32600 with id null',
    binding: 'jsonrpc',
    send: (c) =>
      postRpc(c.url, c.agent, {
        jsonrpc: '2.0',
        id: { x: 1 },
        method: 'GetTask',
        params: { id: unknownTask },
      }),
    expect: { code: -32600, reason: 'INVALID_REQUEST', id: null, field: 'id' },
  },
  {
    name: 'body is a JSON string, not an object → -32600',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, c.agent, '"GetTask"'),
    expect: { code: -32600, reason: 'INVALID_REQUEST', id: null },
  },
  // -32601
  {
    name: 'unknown method → -32601 naming it',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, c.agent, rpcBody('FlyToTheMoon', {}, 9)),
    expect: { code: -32601, reason: 'METHOD_NOT_FOUND', id: 9, messageIncludes: ['FlyToTheMoon'] },
  },
  // -32602
  {
    name: 'params is an array → -32602 (params)',
    binding: 'jsonrpc',
    send: (c) =>
      postRpc(c.url, c.agent, { jsonrpc: '2.0', id: 10, method: 'GetTask', params: [unknownTask] }),
    expect: invalidParams('params', 10),
  },
  {
    name: 'SendMessage without message → -32602 (message)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendMessage', {}),
    expect: invalidParams('message'),
  },
  {
    name: 'SendMessage with empty parts → -32602 (message.parts)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendMessage', send(messageJson('x', { parts: [] }))),
    expect: invalidParams('message.parts'),
  },
  {
    name: 'SendMessage with a part that has no content → -32602 (message.parts[1])',
    binding: 'jsonrpc',
    send: (c) =>
      rpc(
        c.url,
        c.agent,
        'SendMessage',
        send(messageJson('x', { parts: [{ text: 'ok' }, { mediaType: 'text/plain' }] })),
      ),
    expect: invalidParams('message.parts[1]'),
  },
  {
    name: 'SendMessage with a null part → -32602',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendMessage', send(messageJson('x', { parts: [null] }))),
    expect: invalidParams('params'),
  },
  {
    name: 'SendMessage without messageId → -32602 (message.messageId)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendMessage', send({ role: 'ROLE_USER', parts: [{ text: 'x' }] })),
    expect: invalidParams('message.messageId'),
  },
  {
    name: 'SendMessage with configuration.historyLength -1 → -32602',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendMessage', send(messageJson('x'), { historyLength: -1 })),
    expect: invalidParams('configuration.historyLength'),
  },
  {
    name: 'SendStreamingMessage without message → -32602 (message), not a stream',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendStreamingMessage', {}),
    expect: invalidParams('message'),
  },
  {
    name: 'GetTask with historyLength -1 → -32602 (historyLength)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTask', { id: c.finishedTaskId, historyLength: -1 }),
    expect: invalidParams('historyLength'),
  },
  {
    name: 'GetTask with historyLength "abc" → -32602 (historyLength)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTask', { id: c.finishedTaskId, historyLength: 'abc' }),
    expect: invalidParams('historyLength'),
  },
  {
    name: 'ListTasks with pageSize 0 → -32602 (pageSize)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'ListTasks', { pageSize: 0 }),
    expect: invalidParams('pageSize'),
  },
  {
    name: 'ListTasks with pageSize 101 → -32602 (pageSize)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'ListTasks', { pageSize: 101 }),
    expect: invalidParams('pageSize'),
  },
  {
    name: 'ListTasks with an unknown status → -32602 (status)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'ListTasks', { status: 'TASK_STATE_SLEEPING' }),
    expect: invalidParams('status'),
  },
  {
    name: 'ListTasks with a page token the server never issued → -32602 (pageToken)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'ListTasks', { pageToken: 'not-a-real-token' }),
    expect: invalidParams('pageToken'),
  },
  {
    name: 'GetTask without id → -32602 (id)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTask', {}),
    expect: invalidParams('id'),
  },
  {
    name: 'CancelTask without id → -32602 (id)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'CancelTask', {}),
    expect: invalidParams('id'),
  },
  {
    name: 'SubscribeToTask without id → -32602 (id), not a stream',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SubscribeToTask', {}),
    expect: invalidParams('id'),
  },
  {
    name: 'SubscribeToTask with a non-numeric Last-Event-ID → -32602 (Last-Event-ID)',
    binding: 'jsonrpc',
    send: (c) =>
      rpc(c.url, c.agent, 'SubscribeToTask', { id: c.finishedTaskId }, { 'last-event-id': 'yesterday' }),
    expect: invalidParams('Last-Event-ID'),
  },
  {
    name: 'GetTaskPushNotificationConfig without taskId → -32602 (taskId)',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTaskPushNotificationConfig', { id: 'c1' }),
    expect: invalidParams('taskId'),
  },
  {
    name: 'CreateTaskPushNotificationConfig with a non-http url → -32602 (url)',
    binding: 'jsonrpc',
    send: (c) =>
      rpc(c.url, c.agent, 'CreateTaskPushNotificationConfig', { taskId: c.finishedTaskId, url: 'ftp://x/y' }),
    expect: invalidParams('url'),
  },
  // -32001
  {
    name: 'GetTask on an unknown task → -32001',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTask', { id: unknownTask }),
    expect: rpcNotFound,
  },
  {
    name: 'CancelTask on an unknown task → -32001',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'CancelTask', { id: unknownTask }),
    expect: rpcNotFound,
  },
  {
    name: 'SubscribeToTask on an unknown task → -32001, not a stream',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SubscribeToTask', { id: unknownTask }),
    expect: rpcNotFound,
  },
  {
    name: 'CreateTaskPushNotificationConfig on an unknown task → -32001',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'CreateTaskPushNotificationConfig', { taskId: unknownTask, url: hook }),
    expect: rpcNotFound,
  },
  {
    name: 'GetTaskPushNotificationConfig on an unknown task → -32001',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTaskPushNotificationConfig', { taskId: unknownTask, id: 'c1' }),
    expect: rpcNotFound,
  },
  {
    name: 'ListTaskPushNotificationConfigs on an unknown task → -32001',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'ListTaskPushNotificationConfigs', { taskId: unknownTask }),
    expect: rpcNotFound,
  },
  {
    name: 'DeleteTaskPushNotificationConfig on an unknown task → -32001',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'DeleteTaskPushNotificationConfig', { taskId: unknownTask, id: 'c1' }),
    expect: rpcNotFound,
  },
  {
    name: 'GetTaskPushNotificationConfig for a config the task does not have → -32001',
    binding: 'jsonrpc',
    send: (c) =>
      rpc(c.url, c.agent, 'GetTaskPushNotificationConfig', {
        taskId: c.finishedTaskId,
        id: 'no-such-config',
      }),
    expect: { code: -32001, reason: 'TASK_NOT_FOUND', messageIncludes: ['no-such-config'] },
  },
  // -32002 / -32004
  {
    name: 'CancelTask on a completed task → -32002',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'CancelTask', { id: c.finishedTaskId }),
    expect: { code: -32002, reason: 'TASK_NOT_CANCELABLE', messageIncludes: ['completed'] },
  },
  {
    name: 'SubscribeToTask on a completed task → -32004, not a stream',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SubscribeToTask', { id: c.finishedTaskId }),
    expect: { code: -32004, reason: 'UNSUPPORTED_OPERATION' },
  },
  {
    name: 'SendMessage continuing a completed task → -32004',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'SendMessage', send(messageJson('more', { taskId: c.finishedTaskId }))),
    expect: { code: -32004, reason: 'UNSUPPORTED_OPERATION', messageIncludes: [] },
  },
  // -32005
  {
    name: 'Content-Type text/plain → -32005',
    binding: 'jsonrpc',
    send: (c) =>
      postRpc(c.url, c.agent, JSON.stringify(rpcBody('ListTasks', {})), { 'content-type': 'text/plain' }),
    expect: { code: -32005, reason: 'CONTENT_TYPE_NOT_SUPPORTED', id: null, messageIncludes: ['text/plain'] },
  },
  {
    name: 'a body without Content-Type → -32005',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, c.agent, new TextEncoder().encode(JSON.stringify(rpcBody('ListTasks', {})))),
    expect: { code: -32005, reason: 'CONTENT_TYPE_NOT_SUPPORTED', id: null },
  },
  // -32009 (A2A §3.6.2)
  {
    name: 'A2A-Version 0.5 (a version this endpoint does not speak) → -32009',
    binding: 'jsonrpc',
    send: (c) => rpc(c.url, c.agent, 'GetTask', { id: c.finishedTaskId }, { 'a2a-version': '0.5' }),
    expect: { code: -32009, reason: 'VERSION_NOT_SUPPORTED', messageIncludes: ['"0.5"', '1.0'] },
  },
  {
    name: 'A2A-Version 2.0 on a streaming method → -32009, not a stream',
    binding: 'jsonrpc',
    send: (c) =>
      rpc(c.url, c.agent, 'SendStreamingMessage', { message: messageJson('x') }, { 'a2a-version': '2.0' }),
    expect: { code: -32009, reason: 'VERSION_NOT_SUPPORTED', messageIncludes: ['"2.0"'] },
  },
  // unknown agent
  {
    name: 'unknown agent → HTTP 404 naming the agent',
    binding: 'jsonrpc',
    send: (c) => postRpc(c.url, 'no-such-agent', rpcBody('ListTasks', {}, 11)),
    expect: {
      http: 404,
      code: -32050,
      reason: 'AGENT_NOT_FOUND',
      id: 11,
      messageIncludes: ['no-such-agent'],
    },
  },
];

/** HTTP+JSON cases (A2A §11). */
export const REST_CASES: readonly BadRequestCase[] = [
  {
    name: 'malformed JSON → 400 PARSE_ERROR',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', '{"message": {'),
    expect: { http: 400, status: 'INVALID_ARGUMENT', reason: 'PARSE_ERROR' },
  },
  {
    name: 'body is a JSON array → 400 (body)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', [send(messageJson('x'))]),
    expect: restInvalid('body'),
  },
  {
    name: 'empty body → 400 (body)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', ''),
    expect: restInvalid('body'),
  },
  {
    name: 'message:send without message → 400 (message)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', {}),
    expect: restInvalid('message'),
  },
  {
    name: 'message:send with empty parts → 400 (message.parts)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', send(messageJson('x', { parts: [] }))),
    expect: restInvalid('message.parts'),
  },
  {
    name: 'message:send with a part that has no content → 400 (message.parts[0])',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'POST', '/message:send', send(messageJson('x', { parts: [{ metadata: {} }] }))),
    expect: restInvalid('message.parts[0]'),
  },
  {
    name: 'message:send with a null part → 400 (body), not a 500',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', send(messageJson('x', { parts: [null] }))),
    expect: restInvalid('body'),
  },
  {
    name: 'message:send without messageId → 400 (message.messageId)',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'POST', '/message:send', send({ role: 'ROLE_USER', parts: [{ text: 'x' }] })),
    expect: restInvalid('message.messageId'),
  },
  {
    name: 'message:send with configuration.historyLength -1 → 400',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:send', send(messageJson('x'), { historyLength: -1 })),
    expect: restInvalid('configuration.historyLength'),
  },
  {
    name: 'message:stream without message → 400 (message), not a stream',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/message:stream', {}),
    expect: restInvalid('message'),
  },
  {
    name: 'GET /tasks/{id}?historyLength=-1 → 400 (historyLength)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${c.finishedTaskId}?historyLength=-1`),
    expect: restInvalid('historyLength'),
  },
  {
    name: 'GET /tasks/{id}?historyLength=abc → 400 (historyLength)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${c.finishedTaskId}?historyLength=abc`),
    expect: restInvalid('historyLength'),
  },
  {
    name: 'GET /tasks?pageSize=0 → 400 (pageSize)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?pageSize=0'),
    expect: restInvalid('pageSize'),
  },
  {
    name: 'GET /tasks?pageSize=101 → 400 (pageSize)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?pageSize=101'),
    expect: restInvalid('pageSize'),
  },
  {
    name: 'GET /tasks?pageSize=ten → 400 (pageSize)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?pageSize=ten'),
    expect: restInvalid('pageSize'),
  },
  {
    name: 'GET /tasks?status=TASK_STATE_SLEEPING → 400 (status)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?status=TASK_STATE_SLEEPING'),
    expect: restInvalid('status'),
  },
  {
    name: 'GET /tasks?pageToken=<never issued> → 400 (pageToken)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?pageToken=not-a-real-token'),
    expect: restInvalid('pageToken'),
  },
  {
    name: 'GET /tasks?includeArtifacts=maybe → 400 (includeArtifacts)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?includeArtifacts=maybe'),
    expect: restInvalid('includeArtifacts'),
  },
  {
    name: 'GET /tasks?statusTimestampAfter=yesterday → 400 (statusTimestampAfter)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks?statusTimestampAfter=yesterday'),
    expect: restInvalid('statusTimestampAfter'),
  },
  {
    name: 'GET /{tenant}/tasks?pageSize=0 → 400 (pageSize)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/acme/tasks?pageSize=0'),
    expect: restInvalid('pageSize'),
  },
  {
    name: 'POST /tasks/:cancel (no task id) → 400 (id)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/tasks/:cancel'),
    expect: restInvalid('id'),
  },
  {
    name: 'POST /tasks/:subscribe (no task id) → 400 (id), not a stream',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', '/tasks/:subscribe'),
    expect: restInvalid('id'),
  },
  {
    name: 'GET /tasks/%20 (blank task id) → 400 (id)',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/tasks/%20'),
    expect: restInvalid('id'),
  },
  {
    name: ':subscribe with a non-numeric Last-Event-ID → 400 (Last-Event-ID)',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'POST', `/tasks/${c.finishedTaskId}:subscribe`, undefined, {
        'last-event-id': 'x',
      }),
    expect: restInvalid('Last-Event-ID'),
  },
  {
    name: 'POST pushNotificationConfigs with a non-http url → 400 (url)',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'POST', `/tasks/${c.finishedTaskId}/pushNotificationConfigs`, {
        url: 'ftp://x/y',
      }),
    expect: restInvalid('url'),
  },
  // 404 TASK_NOT_FOUND
  {
    name: 'GET /tasks/{unknown} → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${unknownTask}`),
    expect: restNotFound,
  },
  {
    name: 'GET /{tenant}/tasks/{unknown} → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/acme/tasks/${unknownTask}`),
    expect: restNotFound,
  },
  {
    name: 'GET /{tenant}/tasks/{id of another tenant} → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/acme/tasks/${c.finishedTaskId}`),
    expect: { http: 404, status: 'NOT_FOUND', reason: 'TASK_NOT_FOUND' },
  },
  {
    name: 'POST /tasks/{unknown}:cancel → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', `/tasks/${unknownTask}:cancel`),
    expect: restNotFound,
  },
  {
    name: 'POST /tasks/{unknown}:subscribe → 404, not a stream',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', `/tasks/${unknownTask}:subscribe`),
    expect: restNotFound,
  },
  {
    name: 'GET /tasks/{unknown}:subscribe → 404, not a stream',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${unknownTask}:subscribe`),
    expect: restNotFound,
  },
  {
    name: 'POST /tasks/{unknown}/pushNotificationConfigs → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', `/tasks/${unknownTask}/pushNotificationConfigs`, { url: hook }),
    expect: restNotFound,
  },
  {
    name: 'GET /tasks/{unknown}/pushNotificationConfigs → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${unknownTask}/pushNotificationConfigs`),
    expect: restNotFound,
  },
  {
    name: 'GET /tasks/{unknown}/pushNotificationConfigs/{configId} → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${unknownTask}/pushNotificationConfigs/c1`),
    expect: restNotFound,
  },
  {
    name: 'DELETE /tasks/{unknown}/pushNotificationConfigs/{configId} → 404',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'DELETE', `/tasks/${unknownTask}/pushNotificationConfigs/c1`),
    expect: restNotFound,
  },
  // 400 FAILED_PRECONDITION
  {
    name: 'POST /tasks/{completed}:cancel → 400 TASK_NOT_CANCELABLE',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', `/tasks/${c.finishedTaskId}:cancel`),
    expect: {
      http: 400,
      status: 'FAILED_PRECONDITION',
      reason: 'TASK_NOT_CANCELABLE',
      messageIncludes: ['completed'],
    },
  },
  {
    name: 'POST /tasks/{completed}:subscribe → 400 UNSUPPORTED_OPERATION, not a stream',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'POST', `/tasks/${c.finishedTaskId}:subscribe`),
    expect: { http: 400, status: 'FAILED_PRECONDITION', reason: 'UNSUPPORTED_OPERATION' },
  },
  // content type
  {
    name: 'Content-Type text/plain → 400 CONTENT_TYPE_NOT_SUPPORTED',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'POST', '/message:send', JSON.stringify(send(messageJson('x'))), {
        'content-type': 'text/plain',
      }),
    expect: {
      http: 400,
      status: 'INVALID_ARGUMENT',
      reason: 'CONTENT_TYPE_NOT_SUPPORTED',
      messageIncludes: ['text/plain'],
    },
  },
  {
    name: 'a body without Content-Type → 400 CONTENT_TYPE_NOT_SUPPORTED',
    binding: 'rest',
    send: (c) =>
      rest(
        c.url,
        c.agent,
        'POST',
        '/message:send',
        new TextEncoder().encode(JSON.stringify(send(messageJson('x')))),
      ),
    expect: { http: 400, status: 'INVALID_ARGUMENT', reason: 'CONTENT_TYPE_NOT_SUPPORTED' },
  },
  // version (A2A §3.6.2)
  {
    name: 'A2A-Version 0.5 → 400 VERSION_NOT_SUPPORTED',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'GET', `/tasks/${c.finishedTaskId}`, undefined, { 'a2a-version': '0.5' }),
    expect: {
      http: 400,
      status: 'FAILED_PRECONDITION',
      reason: 'VERSION_NOT_SUPPORTED',
      messageIncludes: ['"0.5"', '1.0'],
    },
  },
  {
    name: '?A2A-Version=2.0 (query parameter) → 400 VERSION_NOT_SUPPORTED',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', `/tasks/${c.finishedTaskId}?A2A-Version=2.0`),
    expect: {
      http: 400,
      status: 'FAILED_PRECONDITION',
      reason: 'VERSION_NOT_SUPPORTED',
      messageIncludes: ['"2.0"'],
    },
  },
  {
    name: 'A2A-Version 0.3 on a v1.0 path (v0.3 paths start with /v1/) on message:stream → 400, not a stream',
    binding: 'rest',
    send: (c) =>
      rest(c.url, c.agent, 'POST', '/message:stream', send(messageJson('x')), { 'a2a-version': '0.3' }),
    expect: {
      http: 400,
      status: 'FAILED_PRECONDITION',
      reason: 'VERSION_NOT_SUPPORTED',
      messageIncludes: ['"0.3"'],
    },
  },
  // routing
  {
    name: 'unknown agent → 404 naming the agent',
    binding: 'rest',
    send: (c) => rest(c.url, 'no-such-agent', 'GET', '/tasks'),
    expect: { http: 404, status: 'NOT_FOUND', reason: 'AGENT_NOT_FOUND', messageIncludes: ['no-such-agent'] },
  },
  {
    name: 'unknown route below /rest → 404 ROUTE_NOT_FOUND',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/teleport'),
    expect: { http: 404, status: 'UNIMPLEMENTED', reason: 'ROUTE_NOT_FOUND', messageIncludes: ['teleport'] },
  },
  {
    name: 'wrong HTTP method for a route (GET /message:send) → 404 ROUTE_NOT_FOUND',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'GET', '/message:send'),
    expect: { http: 404, status: 'UNIMPLEMENTED', reason: 'ROUTE_NOT_FOUND' },
  },
  {
    name: 'unregistered HTTP method (PUT /tasks) → 404 ROUTE_NOT_FOUND',
    binding: 'rest',
    send: (c) => rest(c.url, c.agent, 'PUT', '/tasks', {}),
    expect: { http: 404, status: 'UNIMPLEMENTED', reason: 'ROUTE_NOT_FOUND' },
  },
  {
    name: 'unknown path outside /a2a → 404 ROUTE_NOT_FOUND',
    binding: 'rest',
    send: async (c) => readResponse(await fetch(`${c.url}/no/such/thing`)),
    expect: {
      http: 404,
      status: 'UNIMPLEMENTED',
      reason: 'ROUTE_NOT_FOUND',
      messageIncludes: ['/no/such/thing'],
    },
  },
];
