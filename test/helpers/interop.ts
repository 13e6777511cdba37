/**
 * Shared vocabulary of the interop suite: the two transports every operation runs over,
 * request builders for what `sendRequest` does not cover (context ids, push configs), and
 * readers that turn SDK results and stream events into what a user looks at.
 */
import { TaskState } from '@a2a-js/sdk';
import type {
  Message,
  SendMessageRequest,
  SendMessageResult,
  StreamResponse,
  Task,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import { userMessage } from './sdk-client.js';

/** The bindings every interop test runs over, as the SDK names them. */
export const TRANSPORTS = ['JSONRPC', 'HTTP+JSON'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

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

/** The result as a Task; fails the test when the agent answered with a bare Message. */
export function asTask(result: SendMessageResult): Task {
  if (!('status' in result)) throw new Error(`expected a Task, got a Message: ${JSON.stringify(result)}`);
  return result;
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
