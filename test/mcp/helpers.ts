/** Shared by the MCP test files: requests to a `tools` agent and readers of its answers. */
import { Role, type Message, type Part, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { TestServer } from '../helpers/server.js';

export const EVERYTHING = resolve('node_modules/@modelcontextprotocol/server-everything/dist/index.js');

function message(parts: Part[]): Message {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

import { dataPart } from '../../src/agents/parts.js';

export { dataPart };

export function textPart(value: string): Part {
  return { content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

export function request(parts: Part[], returnImmediately = false): SendMessageRequest {
  return {
    tenant: '',
    message: message(parts),
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: undefined,
      returnImmediately,
      historyLength: undefined,
    },
    metadata: undefined,
  };
}

export function toolCall(
  tool: string,
  args: Record<string, unknown>,
  returnImmediately = false,
): SendMessageRequest {
  return request([dataPart({ tool, arguments: args })], returnImmediately);
}

export async function send(client: Client, req: SendMessageRequest): Promise<Task> {
  const result = await client.sendMessage(req);
  if (!('status' in result)) throw new Error('expected a task');
  return result as Task;
}

export function statusText(task: Task): string {
  return (task.status?.message?.parts ?? [])
    .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
    .join('');
}

export function resultParts(task: Task): Part[] {
  return task.artifacts.flatMap((a) => a.parts);
}

export function texts(task: Task): string[] {
  return resultParts(task).flatMap((p) => (p.content?.$case === 'text' ? [p.content.value] : []));
}

export async function metricValue(t: TestServer, series: string): Promise<number> {
  const body = await (await fetch(`http://${t.server.metricsAddress}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
