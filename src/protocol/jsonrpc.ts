/**
 * The JSON-RPC 2.0 binding (A2A §9), independent of the HTTP server: envelope checks,
 * the method table, and result serialisation. Wire decoding and encoding use the SDK's
 * `fromJSON`/`toJSON`; we keep our own dispatcher (instead of the SDK's
 * `JsonRpcTransportHandler`) because the spec wants -32600 for an invalid envelope where
 * the SDK answers -32602, and because our errors carry catalogue codes the SDK's mapper
 * would collapse to -32603.
 */
import {
  AgentCard,
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  ListTasksRequest,
  Message,
  SendMessageRequest,
  SubscribeToTaskRequest,
  Task,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import type { ListTasksResponse, MessageFns } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { AgentdError, err, invalidParams, toAgentdError, toJsonRpcErrorBody } from '../errors.js';
import type { HostedAgent } from '../engine/hosted-agent.js';
import { taskJson } from '../codec.js';
import type { StreamRecord, TaskEngine } from '../engine/task-engine.js';

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  readonly id: JsonRpcId;
  readonly method: string;
  readonly params: Record<string, unknown>;
}

/** A request that parsed, or the error response to send instead. */
export type ParsedRequest =
  { ok: true; request: JsonRpcRequest } | { ok: false; id: JsonRpcId; error: AgentdError };

/** The two streaming methods; everything else is unary. */
export const STREAMING_METHODS: ReadonlySet<string> = new Set(['SendStreamingMessage', 'SubscribeToTask']);

/** Parses and checks a JSON-RPC 2.0 request envelope (-32700 / -32600 / -32602). */
export function parseJsonRpc(body: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return {
      ok: false,
      id: null,
      error: err('PARSE_ERROR', `Request body is not valid JSON: ${(error as Error).message}`),
    };
  }
  if (Array.isArray(value)) {
    return {
      ok: false,
      id: null,
      error: err('INVALID_REQUEST', 'Batch requests are not supported; send one request per call'),
    };
  }
  if (typeof value !== 'object' || value === null) {
    return { ok: false, id: null, error: err('INVALID_REQUEST', 'A JSON-RPC request must be a JSON object') };
  }
  const obj = value as Record<string, unknown>;
  const rawId = obj.id;
  const idValid =
    rawId === undefined || rawId === null || typeof rawId === 'string' || Number.isInteger(rawId);
  const id: JsonRpcId = idValid ? ((rawId as JsonRpcId | undefined) ?? null) : null;
  if (obj.jsonrpc !== '2.0')
    return { ok: false, id, error: err('INVALID_REQUEST', 'jsonrpc: must be "2.0"', { field: 'jsonrpc' }) };
  if (!idValid)
    return {
      ok: false,
      id,
      error: err('INVALID_REQUEST', 'id: must be a string, an integer or null', { field: 'id' }),
    };
  if (typeof obj.method !== 'string' || obj.method === '') {
    return {
      ok: false,
      id,
      error: err('INVALID_REQUEST', 'method: must be a non-empty string', { field: 'method' }),
    };
  }
  const params = obj.params ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    return { ok: false, id, error: invalidParams('params', 'must be a JSON object') };
  }
  return { ok: true, request: { id, method: obj.method, params: params as Record<string, unknown> } };
}

/** Decodes params with the SDK's `fromJSON`, turning its throws into INVALID_PARAMS. */
function decode<T>(fns: MessageFns<T>, params: Record<string, unknown>): T {
  try {
    return fns.fromJSON(params);
  } catch (error) {
    throw invalidParams('params', (error as Error).message);
  }
}

/** Runs a unary method and returns the JSON `result`. */
export async function callUnary(
  engine: TaskEngine,
  agent: HostedAgent,
  method: string,
  params: Record<string, unknown>,
  ctx: ServerCallContext,
): Promise<unknown> {
  switch (method) {
    case 'SendMessage': {
      return sendMessageResultToJson(
        await engine.sendMessage(agent, decode(SendMessageRequest, params), ctx),
      );
    }
    case 'GetTask':
      return Task.toJSON(await engine.getTask(agent, decode(GetTaskRequest, params), ctx));
    case 'ListTasks': {
      const req = decode(ListTasksRequest, params);
      return listTasksToJson(await engine.listTasks(agent, req, ctx), req.includeArtifacts ?? false);
    }
    case 'CancelTask':
      return Task.toJSON(await engine.cancelTask(agent, decode(CancelTaskRequest, params), ctx));
    case 'CreateTaskPushNotificationConfig':
      return TaskPushNotificationConfig.toJSON(
        await engine.pushConfigs.create(agent, decode(TaskPushNotificationConfig, params), ctx),
      );
    case 'GetTaskPushNotificationConfig':
      return TaskPushNotificationConfig.toJSON(
        await engine.pushConfigs.get(agent, decode(GetTaskPushNotificationConfigRequest, params), ctx),
      );
    case 'ListTaskPushNotificationConfigs':
      return ListTaskPushNotificationConfigsResponse.toJSON(
        await engine.pushConfigs.list(agent, decode(ListTaskPushNotificationConfigsRequest, params), ctx),
      );
    case 'DeleteTaskPushNotificationConfig':
      await engine.pushConfigs.delete(agent, decode(DeleteTaskPushNotificationConfigRequest, params), ctx);
      return {};
    case 'GetExtendedAgentCard':
      return AgentCard.toJSON(engine.extendedCard(agent));
    default:
      throw err(
        'METHOD_NOT_FOUND',
        `Method "${method}" does not exist; see the A2A v1.0 JSON-RPC method list`,
        {
          method,
        },
      );
  }
}

/** Starts a streaming method; errors before the first event surface from the first `next()`. */
export function callStreaming(
  engine: TaskEngine,
  agent: HostedAgent,
  method: string,
  params: Record<string, unknown>,
  ctx: ServerCallContext,
  signal: AbortSignal,
  lastEventId: number | undefined,
): AsyncGenerator<StreamRecord, void, undefined> {
  if (method === 'SendStreamingMessage') {
    return engine.sendMessageStream(agent, decode(SendMessageRequest, params), ctx, signal);
  }
  return engine.subscribe(agent, decode(SubscribeToTaskRequest, params), ctx, {
    signal,
    ...(lastEventId !== undefined ? { afterSeq: lastEventId } : {}),
  });
}

/** SendMessage's JSON result (JSON-RPC `result`, REST body): `{ message }` or `{ task }`. */
export function sendMessageResultToJson(result: Message | Task): Record<string, unknown> {
  return 'messageId' in result ? { message: Message.toJSON(result) } : { task: taskJson(result) };
}

/** ListTasks JSON: `artifacts` is omitted entirely unless asked for (A2A §3.1.4). */
export function listTasksToJson(res: ListTasksResponse, includeArtifacts: boolean): Record<string, unknown> {
  return {
    tasks: res.tasks.map((t) => {
      const json = Task.toJSON(t) as Record<string, unknown>;
      if (includeArtifacts) json.artifacts ??= [];
      else delete json.artifacts;
      return json;
    }),
    nextPageToken: res.nextPageToken,
    pageSize: res.pageSize,
    totalSize: res.totalSize,
  };
}

/** A JSON-RPC success envelope. */
export function resultEnvelope(id: JsonRpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result });
}

/** A JSON-RPC error envelope for anything thrown. */
export function errorEnvelope(id: JsonRpcId, error: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: toJsonRpcErrorBody(toAgentdError(error)) });
}
