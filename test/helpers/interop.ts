/**
 * Shared vocabulary of the interop suite: the transports operations run over, request
 * builders for what `sendRequest` does not cover (context ids, push configs, listings),
 * readers that turn SDK results and stream events into what a user looks at, and the SDK
 * error each binding raises.
 */
import { TaskState } from '@a2a-js/sdk';
import type {
  ListTasksRequest,
  Message,
  SendMessageRequest,
  SendMessageResult,
  StreamResponse,
  Task,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import {
  ExtendedAgentCardNotConfiguredError,
  TaskNotCancelableError,
  TaskNotFoundError,
  UnsupportedOperationError,
  isJsonRpcError,
  isRestError,
} from '@a2a-js/sdk/errors';
import { isGrpcError } from '@a2a-js/sdk/errors/grpc';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'vitest';
import { userMessage } from './sdk-client.js';
import { DEMO_AGENTS } from './server.js';

/** Every binding agentd serves, as the SDK names them: the shared operation suites run over each. */
export const TRANSPORTS = ['JSONRPC', 'HTTP+JSON', 'GRPC'] as const;
export type TransportName = (typeof TRANSPORTS)[number];
/** The HTTP bindings alone, for suites not run over gRPC (their gRPC counterparts, if any, are in grpc-*.test.ts). */
export const HTTP_TRANSPORTS = ['JSONRPC', 'HTTP+JSON'] as const satisfies readonly TransportName[];

/** The demo agents plus `vip`, an echo whose card advertises an extended card. */
export const AGENTS_WITH_EXTENDED_CARD = [
  ...DEMO_AGENTS,
  {
    name: 'vip',
    kind: 'echo',
    description: 'an echo with a private side',
    extendedCard: { description: 'x' },
  },
];

export interface RequestOptions {
  taskId?: string;
  contextId?: string;
  returnImmediately?: boolean;
  historyLength?: number;
  push?: Partial<TaskPushNotificationConfig> & { url: string };
}

/** A SendMessageRequest for one text message, with the options users set most. */
export function messageRequest(text: string, options: RequestOptions = {}): SendMessageRequest {
  const extra: Partial<Message> = {};
  if (options.taskId) extra.taskId = options.taskId;
  if (options.contextId) extra.contextId = options.contextId;
  return {
    tenant: '',
    message: userMessage(text, extra),
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: options.push ? pushConfig(options.push) : undefined,
      returnImmediately: options.returnImmediately ?? false,
      historyLength: options.historyLength,
    },
    metadata: undefined,
  };
}

/** A complete TaskPushNotificationConfig from the fields a test cares about. */
export function pushConfig(
  fields: Partial<TaskPushNotificationConfig> & { url: string },
): TaskPushNotificationConfig {
  return { tenant: '', id: '', taskId: '', token: '', authentication: undefined, ...fields };
}

/** A ListTasksRequest with the fields a test does not set left empty. */
export function listRequest(fields: Partial<ListTasksRequest> = {}): ListTasksRequest {
  return {
    tenant: '',
    contextId: '',
    status: TaskState.TASK_STATE_UNSPECIFIED,
    pageToken: '',
    statusTimestampAfter: undefined,
    ...fields,
  };
}

/** The result as a Task; fails the test when the agent answered with a bare Message. */
export function asTask(result: SendMessageResult): Task {
  if (!('status' in result)) throw new Error(`expected a Task, got a Message: ${JSON.stringify(result)}`);
  return result;
}

/** The error a call fails with; fails the test if the call succeeds. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** An A2A error as the SDK raises it: its semantic class, and the wire code each binding sends it with. */
interface A2AErrorExpectation {
  readonly cls: abstract new (...args: never[]) => Error;
  readonly JSONRPC: number;
  readonly 'HTTP+JSON': number;
  readonly GRPC: keyof typeof grpc.status;
}

/** The A2A errors the interop tests provoke. */
const A2A_ERRORS = {
  TASK_NOT_FOUND: { cls: TaskNotFoundError, JSONRPC: -32001, 'HTTP+JSON': 404, GRPC: 'NOT_FOUND' },
  TASK_NOT_CANCELABLE: {
    cls: TaskNotCancelableError,
    JSONRPC: -32002,
    'HTTP+JSON': 400,
    GRPC: 'FAILED_PRECONDITION',
  },
  UNSUPPORTED_OPERATION: {
    cls: UnsupportedOperationError,
    JSONRPC: -32004,
    'HTTP+JSON': 400,
    GRPC: 'FAILED_PRECONDITION',
  },
  EXTENDED_AGENT_CARD_NOT_CONFIGURED: {
    cls: ExtendedAgentCardNotConfiguredError,
    JSONRPC: -32007,
    'HTTP+JSON': 400,
    GRPC: 'FAILED_PRECONDITION',
  },
} satisfies Record<string, A2AErrorExpectation>;
export type A2AErrorReason = keyof typeof A2A_ERRORS;

/**
 * Per binding: the `transport` its SDK errors name, and the wire code they carry
 * (undefined if none; a gRPC status by name, so failures read well).
 */
const WIRE_CODE: Record<
  TransportName,
  { transport: string; of(error: unknown): number | string | undefined }
> = {
  JSONRPC: { transport: 'jsonrpc', of: (e) => (isJsonRpcError(e) ? e.envelopeCode : undefined) },
  'HTTP+JSON': { transport: 'rest', of: (e) => (isRestError(e) ? e.statusCode : undefined) },
  GRPC: { transport: 'grpc', of: (e) => (isGrpcError(e) ? grpc.status[e.status] : undefined) },
};

/**
 * Asserts the SDK's error as `transport` raises it: the semantic class, its name and
 * reason, and the wire code it came with (JSON-RPC envelope code, HTTP status, gRPC status).
 */
export function expectSdkError(error: unknown, transport: TransportName, reason: A2AErrorReason): void {
  const expected = A2A_ERRORS[reason];
  const wire = WIRE_CODE[transport];
  expect(error).toBeInstanceOf(expected.cls);
  expect(error).toMatchObject({ name: expected.cls.name, reason, transport: wire.transport });
  expect(wire.of(error), `${transport} wire code of ${reason}`).toBe(expected[transport]);
}

/** Reads a stream to its end. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

/** The task state an event reports (Task or status update), else undefined. */
export function stateOf(event: StreamResponse): TaskState | undefined {
  const p = event.payload;
  if (p?.$case === 'task') return p.value.status?.state;
  if (p?.$case === 'statusUpdate') return p.value.status?.state;
  return undefined;
}

/** `TASK_STATE_WORKING`-style names, so failures read well. */
export function stateName(state: TaskState | undefined): string {
  return state === undefined ? 'none' : (TaskState[state] ?? String(state));
}

/** A compact description of an event sequence (for assertions with readable diffs). */
export function describeEvents(events: StreamResponse[]): string[] {
  return events.map((e) => {
    const p = e.payload;
    if (!p) return 'empty';
    if (p.$case === 'task') return `task:${stateName(p.value.status?.state)}`;
    if (p.$case === 'statusUpdate') return `status:${stateName(p.value.status?.state)}`;
    if (p.$case === 'artifactUpdate')
      return `artifact:${JSON.stringify(partsText(p.value.artifact?.parts ?? []))}`;
    return 'message';
  });
}

/** The text of every artifact-update event, in order (one entry per text part). */
export function chunkTexts(events: StreamResponse[], artifactId?: string): string[] {
  const out: string[] = [];
  for (const e of events) {
    const p = e.payload;
    if (p?.$case !== 'artifactUpdate' || !p.value.artifact) continue;
    if (artifactId !== undefined && p.value.artifact.artifactId !== artifactId) continue;
    out.push(...partsText(p.value.artifact.parts));
  }
  return out;
}

/** Text parts of one artifact of a task (one entry per part). */
export function artifactParts(task: Task, artifactId: string): string[] {
  const artifact = task.artifacts.find((a) => a.artifactId === artifactId);
  return artifact ? partsText(artifact.parts) : [];
}

/** The whole text of one artifact of a task. */
export function artifactText(task: Task, artifactId: string): string {
  return artifactParts(task, artifactId).join('');
}

/** Joined text of a message (its text parts). */
export function messageText(message: Message | undefined): string {
  return message ? partsText(message.parts).join('') : '';
}

/** "1\n2\n…n\n": what the countdown agent's artifact reads after counting to n. */
export function countTo(n: number, from = 1): string[] {
  const out: string[] = [];
  for (let i = from; i <= n; i++) out.push(`${i}\n`);
  return out;
}

/** The Task of a stream's first event; fails the test otherwise. */
export function firstTask(events: StreamResponse[]): Task {
  const p = events[0]?.payload;
  if (p?.$case !== 'task')
    throw new Error(`expected the stream to start with a Task, got ${describeEvents(events.slice(0, 1))}`);
  return p.value;
}

function partsText(parts: Message['parts']): string[] {
  const out: string[] = [];
  for (const part of parts) if (part.content?.$case === 'text') out.push(part.content.value);
  return out;
}
