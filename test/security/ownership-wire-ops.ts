/**
 * Every task operation over the wire (JSON-RPC, HTTP+JSON, gRPC) as one caller sends it, and
 * what that caller observes when it is refused: the whole answer (HTTP status, content type
 * and body; gRPC status, message and the google.rpc.Status trailer) with the task id blanked,
 * so a refusal can be compared byte for byte with the answer for a task that does not exist.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { decodeErrorInfo, decodeStatus, GRPC_STATUS_DETAILS_BIN } from '@a2a-js/sdk/errors/grpc';
import { expect } from 'vitest';
import { expectGrpcError, type RawGrpcClient } from '../helpers/grpc.js';
import { messageRequest, pushConfig } from '../helpers/interop.js';
import {
  expectRestError,
  expectRpcError,
  messageJson,
  readResponse,
  restUrl,
  rpcUrl,
  type Json,
  type WireResponse,
} from '../helpers/wire.js';

export type Binding = 'jsonrpc' | 'rest' | 'grpc';
export const BINDINGS: readonly Binding[] = ['jsonrpc', 'rest', 'grpc'];

/** One caller: the credentials it sends and the clients it sends them with. */
export interface Caller {
  readonly name: string;
  /** Credential headers (also sent as gRPC metadata); none for a certificate caller. */
  readonly headers: Record<string, string>;
  /** fetch as this caller (a client certificate for mTLS, plain fetch otherwise). */
  readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
  /** A gRPC client as this caller. */
  readonly grpc: RawGrpcClient;
}

/** Where the calls go: a server base URL and the agent (its gRPC tenant). */
export interface Target {
  readonly url: string;
  readonly agent: string;
}

/** A task as its creator got it. */
export interface Created {
  readonly id: string;
  readonly contextId: string;
}

export const HOOK_URL = 'https://example.com/hook';

const blank = (text: string, id: string): string => text.split(id).join('<id>');

async function http(
  caller: Caller,
  url: string,
  method: string,
  body?: unknown,
  contentType = 'application/json',
  extra: Record<string, string> = {},
): Promise<WireResponse> {
  const headers = {
    ...caller.headers,
    ...extra,
    ...(body === undefined ? {} : { 'content-type': contentType }),
  };
  return readResponse(
    await caller.fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
}

export function rpcCall(
  t: Target,
  caller: Caller,
  method: string,
  params: unknown,
  extra: Record<string, string> = {},
): Promise<WireResponse> {
  // A fixed request id: two answers differ only in what the server chose to say.
  const body = { jsonrpc: '2.0', id: 1, method, params };
  return http(caller, rpcUrl(t.url, t.agent), 'POST', body, 'application/json', extra);
}

export function restCall(
  t: Target,
  caller: Caller,
  method: string,
  path: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<WireResponse> {
  return http(caller, `${restUrl(t.url, t.agent)}${path}`, method, body, 'application/a2a+json', extra);
}

/** A stream resumed after the first event (SSE `Last-Event-ID`). */
const RESUME = { 'last-event-id': '1' };

/** An HTTP answer as the caller observes it, the task id blanked. */
function observedHttp(res: WireResponse, id: string): Json {
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: blank(res.text, id),
  };
}

/** A gRPC failure as the caller observes it, the task id blanked. */
function observedGrpc(error: grpc.ServiceError, id: string): Json {
  const bins = error.metadata.get(GRPC_STATUS_DETAILS_BIN);
  const status = decodeStatus(Buffer.from(bins[0] as Buffer));
  return JSON.parse(
    blank(
      JSON.stringify({
        code: error.code,
        details: error.details,
        status: {
          code: status.code,
          message: status.message,
          details: status.details.map((d) => ({ typeUrl: d.typeUrl, info: decodeErrorInfo(d.value) })),
        },
      }),
      id,
    ),
  );
}

async function grpcUnaryFailure(call: () => Promise<unknown>, id: string): Promise<Json> {
  try {
    const response = await call();
    throw new Error(`expected a gRPC failure, got ${JSON.stringify(response)}`);
  } catch (error) {
    const e = error as grpc.ServiceError;
    if (typeof e.code !== 'number') throw error;
    expectGrpcError(e, { code: grpc.status.NOT_FOUND, reason: 'TASK_NOT_FOUND' });
    return observedGrpc(e, id);
  }
}

async function grpcStreamFailure(open: () => ReturnType<RawGrpcClient['stream']>, id: string): Promise<Json> {
  const { events, error } = await open().failure();
  expect(events).toEqual([]);
  expectGrpcError(error, { code: grpc.status.NOT_FOUND, reason: 'TASK_NOT_FOUND' });
  return observedGrpc(error, id);
}

function rpcRefused(res: WireResponse, id: string): Json {
  expectRpcError(res, { code: -32001, reason: 'TASK_NOT_FOUND', id: 1 });
  return observedHttp(res, id);
}

function restRefused(res: WireResponse, id: string): Json {
  expectRestError(res, { http: 404, status: 'NOT_FOUND', reason: 'TASK_NOT_FOUND' });
  return observedHttp(res, id);
}

/** An operation on task `id` as `caller`, resolving with what it observed (it must be refused). */
export type Refusable = (t: Target, id: string, caller: Caller) => Promise<Json>;

export const grpcMeta = (caller: Caller): { metadata: Record<string, string> } => ({
  metadata: caller.headers,
});

/** Every operation on one task, per binding; each asserts TASK_NOT_FOUND and returns the observation. */
export const OPERATIONS: Record<Binding, Array<[string, Refusable]>> = {
  jsonrpc: [
    ['GetTask', async (t, id, c) => rpcRefused(await rpcCall(t, c, 'GetTask', { id }), id)],
    ['CancelTask', async (t, id, c) => rpcRefused(await rpcCall(t, c, 'CancelTask', { id }), id)],
    ['SubscribeToTask', async (t, id, c) => rpcRefused(await rpcCall(t, c, 'SubscribeToTask', { id }), id)],
    [
      'SubscribeToTask (resumed, Last-Event-ID)',
      async (t, id, c) => rpcRefused(await rpcCall(t, c, 'SubscribeToTask', { id }, RESUME), id),
    ],
    [
      'CreateTaskPushNotificationConfig',
      async (t, id, c) =>
        rpcRefused(
          await rpcCall(t, c, 'CreateTaskPushNotificationConfig', { taskId: id, id: 'hook', url: HOOK_URL }),
          id,
        ),
    ],
    [
      'GetTaskPushNotificationConfig',
      async (t, id, c) =>
        rpcRefused(await rpcCall(t, c, 'GetTaskPushNotificationConfig', { taskId: id, id: 'hook' }), id),
    ],
    [
      'ListTaskPushNotificationConfigs',
      async (t, id, c) =>
        rpcRefused(await rpcCall(t, c, 'ListTaskPushNotificationConfigs', { taskId: id }), id),
    ],
    [
      'DeleteTaskPushNotificationConfig',
      async (t, id, c) =>
        rpcRefused(await rpcCall(t, c, 'DeleteTaskPushNotificationConfig', { taskId: id, id: 'hook' }), id),
    ],
    [
      'SendMessage (follow-up)',
      async (t, id, c) => rpcRefused(await rpcCall(t, c, 'SendMessage', { message: followUp(id) }), id),
    ],
    [
      'SendStreamingMessage (follow-up)',
      async (t, id, c) =>
        rpcRefused(await rpcCall(t, c, 'SendStreamingMessage', { message: followUp(id) }), id),
    ],
  ],
  rest: [
    ['GET /tasks/{id}', async (t, id, c) => restRefused(await restCall(t, c, 'GET', `/tasks/${id}`), id)],
    [
      'POST /tasks/{id}:cancel',
      async (t, id, c) => restRefused(await restCall(t, c, 'POST', `/tasks/${id}:cancel`, {}), id),
    ],
    [
      'GET /tasks/{id}:subscribe',
      async (t, id, c) => restRefused(await restCall(t, c, 'GET', `/tasks/${id}:subscribe`), id),
    ],
    [
      'POST /tasks/{id}:subscribe (resumed, Last-Event-ID)',
      async (t, id, c) => restRefused(await restCall(t, c, 'POST', `/tasks/${id}:subscribe`, {}, RESUME), id),
    ],
    [
      'POST /tasks/{id}/pushNotificationConfigs',
      async (t, id, c) =>
        restRefused(
          await restCall(t, c, 'POST', `/tasks/${id}/pushNotificationConfigs`, { id: 'hook', url: HOOK_URL }),
          id,
        ),
    ],
    [
      'GET /tasks/{id}/pushNotificationConfigs/{configId}',
      async (t, id, c) =>
        restRefused(await restCall(t, c, 'GET', `/tasks/${id}/pushNotificationConfigs/hook`), id),
    ],
    [
      'GET /tasks/{id}/pushNotificationConfigs',
      async (t, id, c) =>
        restRefused(await restCall(t, c, 'GET', `/tasks/${id}/pushNotificationConfigs`), id),
    ],
    [
      'DELETE /tasks/{id}/pushNotificationConfigs/{configId}',
      async (t, id, c) =>
        restRefused(await restCall(t, c, 'DELETE', `/tasks/${id}/pushNotificationConfigs/hook`), id),
    ],
    [
      'POST /message:send (follow-up)',
      async (t, id, c) =>
        restRefused(await restCall(t, c, 'POST', '/message:send', { message: followUp(id) }), id),
    ],
    [
      'POST /message:stream (follow-up)',
      async (t, id, c) =>
        restRefused(await restCall(t, c, 'POST', '/message:stream', { message: followUp(id) }), id),
    ],
  ],
  grpc: [
    [
      'GetTask',
      (t, id, c) =>
        grpcUnaryFailure(
          () => c.grpc.unary('getTask', { tenant: t.agent, id, historyLength: undefined }, grpcMeta(c)),
          id,
        ),
    ],
    [
      'CancelTask',
      (t, id, c) =>
        grpcUnaryFailure(
          () => c.grpc.unary('cancelTask', { tenant: t.agent, id, metadata: undefined }, grpcMeta(c)),
          id,
        ),
    ],
    [
      'SubscribeToTask',
      (t, id, c) =>
        grpcStreamFailure(() => c.grpc.stream('subscribeToTask', { tenant: t.agent, id }, grpcMeta(c)), id),
    ],
    [
      'CreateTaskPushNotificationConfig',
      (t, id, c) =>
        grpcUnaryFailure(
          () =>
            c.grpc.unary(
              'createTaskPushNotificationConfig',
              pushConfig({ tenant: t.agent, taskId: id, id: 'hook', url: HOOK_URL }),
              grpcMeta(c),
            ),
          id,
        ),
    ],
    [
      'GetTaskPushNotificationConfig',
      (t, id, c) =>
        grpcUnaryFailure(
          () =>
            c.grpc.unary(
              'getTaskPushNotificationConfig',
              { tenant: t.agent, taskId: id, id: 'hook' },
              grpcMeta(c),
            ),
          id,
        ),
    ],
    [
      'ListTaskPushNotificationConfigs',
      (t, id, c) =>
        grpcUnaryFailure(
          () =>
            c.grpc.unary(
              'listTaskPushNotificationConfigs',
              { tenant: t.agent, taskId: id, pageSize: 0, pageToken: '' },
              grpcMeta(c),
            ),
          id,
        ),
    ],
    [
      'DeleteTaskPushNotificationConfig',
      (t, id, c) =>
        grpcUnaryFailure(
          () =>
            c.grpc.unary(
              'deleteTaskPushNotificationConfig',
              { tenant: t.agent, taskId: id, id: 'hook' },
              grpcMeta(c),
            ),
          id,
        ),
    ],
    [
      'SendMessage (follow-up)',
      (t, id, c) =>
        grpcUnaryFailure(
          () =>
            c.grpc.unary(
              'sendMessage',
              { ...messageRequest('more', { taskId: id }), tenant: t.agent },
              grpcMeta(c),
            ),
          id,
        ),
    ],
    [
      'SendStreamingMessage (follow-up)',
      (t, id, c) =>
        grpcStreamFailure(
          () =>
            c.grpc.stream(
              'sendStreamingMessage',
              { ...messageRequest('more', { taskId: id }), tenant: t.agent },
              grpcMeta(c),
            ),
          id,
        ),
    ],
  ],
};

function followUp(taskId: string): Record<string, unknown> {
  return messageJson('more', { taskId });
}

/**
 * Asserts that every operation on `task` as `caller` is refused with TASK_NOT_FOUND, observed
 * exactly as the same operation on a task id that does not exist.
 */
export async function expectAllRefusedLikeMissing(
  binding: Binding,
  t: Target,
  task: Created,
  caller: Caller,
): Promise<void> {
  for (const [name, op] of OPERATIONS[binding]) {
    const refused = await op(t, task.id, caller);
    const ghost = randomUUID();
    const missing = await op(t, ghost, caller);
    expect(refused, `${binding} ${name}`).toEqual(missing);
  }
}
