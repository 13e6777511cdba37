/**
 * A2A semantics the benchmarks rely on: the requests they send and the checks
 * that a server answered them correctly, on every binding. Responses are
 * decoded into the SDK's types first, so JSON-RPC, REST and gRPC answers go
 * through the same checks.
 */
import {
  Role,
  SendMessageRequest,
  SendMessageResponse,
  StreamResponse,
  TaskState,
  type JsonInput,
  type Message,
} from '@a2a-js/sdk';
import { CHUNKS_ARTIFACT, chunkText } from '../agents/chunks-agent.js';
import { textPart } from '../agents/parts.js';

/** The HTTP bindings whose JSON bodies {@link decodeSendResponse} and {@link decodeStreamEvent} read. */
export type HttpBinding = 'jsonrpc' | 'rest';

/** A user message with one text part. */
export function userMessage(text: string, messageId = 'm-1'): Message {
  return {
    messageId,
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [textPart(text)],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

/** A blocking SendMessage / SendStreamingMessage request for `text`, addressed to `tenant`. */
export function sendMessageRequest(text: string, tenant = ''): SendMessageRequest {
  return { tenant, message: userMessage(text), configuration: undefined, metadata: undefined };
}

/** The HTTP body of a SendMessage-style request: a JSON-RPC envelope for `method`, or the bare REST body. */
export function httpRequestBody(binding: HttpBinding, method: string, text: string): string {
  const params = SendMessageRequest.toJSON(sendMessageRequest(text));
  return JSON.stringify(binding === 'rest' ? params : { jsonrpc: '2.0', id: 1, method, params });
}

/** The text of the first part of the message in a SendMessage-style HTTP body on `binding`. */
export function httpRequestText(binding: HttpBinding, body: string): string {
  const json = JSON.parse(body) as { params?: unknown };
  const request = SendMessageRequest.fromJSON((binding === 'rest' ? json : json.params) as JsonInput);
  const part = request.message?.parts[0]?.content;
  if (part?.$case !== 'text') throw new Error(`request body has no text part: ${body}`);
  return part.value;
}

/** The request headers of `binding` (content type and `A2A-Version: 1.0`). */
export function httpHeaders(binding: HttpBinding): Record<string, string> {
  return {
    'Content-Type': binding === 'rest' ? 'application/a2a+json' : 'application/json',
    'A2A-Version': '1.0',
  };
}

function unwrap(binding: HttpBinding, json: unknown): unknown {
  if (binding === 'rest') return json;
  const envelope = json as { result?: unknown; error?: unknown };
  if (envelope.error !== undefined) throw new Error(`JSON-RPC error ${JSON.stringify(envelope.error)}`);
  if (envelope.result === undefined) throw new Error('JSON-RPC response has no result');
  return envelope.result;
}

/** Decodes the JSON body of a SendMessage answer on `binding`; throws on a JSON-RPC error. */
export function decodeSendResponse(binding: HttpBinding, body: string): SendMessageResponse {
  return SendMessageResponse.fromJSON(unwrap(binding, JSON.parse(body)) as JsonInput);
}

/** Decodes the `data` of one SSE event on `binding`; throws on a JSON-RPC error. */
export function decodeStreamEvent(binding: HttpBinding, data: string): StreamResponse {
  return StreamResponse.fromJSON(unwrap(binding, JSON.parse(data)) as JsonInput);
}

/** Returns why a SendMessage answer is not the completed echo task for `text`, if it is not. */
export function echoProblem(res: SendMessageResponse, text: string): string | undefined {
  if (res.payload?.$case !== 'task') return `expected a task, got ${res.payload?.$case ?? 'nothing'}`;
  const task = res.payload.value;
  if (task.status?.state !== TaskState.TASK_STATE_COMPLETED) {
    return `status.state is ${TaskState[task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED]}`;
  }
  if (task.artifacts.length !== 1) return `expected exactly one artifact, got ${task.artifacts.length}`;
  const parts = task.artifacts[0]?.parts ?? [];
  const part = parts[0]?.content;
  if (parts.length !== 1 || part?.$case !== 'text' || part.value !== text) {
    return `artifact is not a single text part "${text}"`;
  }
  return undefined;
}

/**
 * Returns why a SendStreamingMessage event sequence is not what the chunks
 * agent sends for `chunks N`, if it is not: the task first, exactly N chunks
 * of one artifact in order (`append` after the first, `lastChunk` on the
 * last only), and a COMPLETED status last.
 */
export function chunkStreamProblem(events: readonly StreamResponse[], chunks: number): string | undefined {
  const first = events[0]?.payload;
  if (first?.$case !== 'task') return `first event is ${first?.$case ?? 'missing'}, expected the task`;
  let seen = 0;
  for (const event of events) {
    if (event.payload?.$case !== 'artifactUpdate') continue;
    const update = event.payload.value;
    const part = update.artifact?.parts[0]?.content;
    if (
      update.artifact?.artifactId !== CHUNKS_ARTIFACT.artifactId ||
      update.append !== seen > 0 ||
      update.lastChunk !== (seen === chunks - 1) ||
      part?.$case !== 'text' ||
      part.value !== chunkText(seen)
    ) {
      return `chunk ${seen} is wrong: ${JSON.stringify(StreamResponse.toJSON(event))}`;
    }
    seen++;
  }
  if (seen !== chunks) return `expected ${chunks} artifact chunks, got ${seen}`;
  const last = events[events.length - 1]?.payload;
  const state =
    last?.$case === 'statusUpdate'
      ? last.value.status?.state
      : last?.$case === 'task'
        ? last.value.status?.state
        : undefined;
  if (state !== TaskState.TASK_STATE_COMPLETED) {
    return `last event is ${last?.$case ?? 'missing'} in state ${TaskState[state ?? TaskState.TASK_STATE_UNSPECIFIED]}, expected COMPLETED`;
  }
  return undefined;
}
