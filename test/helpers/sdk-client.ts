/** Official @a2a-js/sdk clients for a running server, and message builders. */
import {
  Role,
  TaskState,
  type ListTasksRequest,
  type Message,
  type SendMessageRequest,
  type Task,
} from '@a2a-js/sdk';
import { ClientFactory, ClientFactoryOptions, type Client } from '@a2a-js/sdk/client';
import { GrpcTransportFactory } from '@a2a-js/sdk/client/grpc';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { closeSdkClient } from './grpc.js';
import type { TransportName } from './interop.js';

/**
 * A client created the way users do: from the agent's card URL alone, preferring
 * `transport`. The SDK falls back to another interface on the card when that one is absent.
 * `cardPath` is where the card lies below `agentUrl` (the SDK's well-known path by default;
 * `''` when `agentUrl` is the full card URL).
 */
export async function clientFor(
  agentUrl: string,
  transport: TransportName = 'JSONRPC',
  cardPath?: string,
): Promise<Client> {
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new GrpcTransportFactory()],
      preferredTransports: [transport],
    }),
  );
  return factory.createFromUrl(agentUrl, cardPath);
}

/**
 * The clients of one suite over one transport: `for` makes each from an agent URL and
 * checks it really speaks that transport; `close` releases them all (the gRPC ones hold a
 * channel; the HTTP ones hold nothing). Close them before the server they talk to.
 */
export class SuiteClients {
  private readonly made: Client[] = [];

  constructor(readonly transport: TransportName) {}

  async for(agentUrl: string, cardPath?: string): Promise<Client> {
    const client = await clientFor(agentUrl, this.transport, cardPath);
    this.made.push(client);
    expect(client.transport.protocolName).toBe(this.transport);
    return client;
  }

  close(): void {
    for (const client of this.made.splice(0)) closeSdkClient(client);
  }
}

export function userMessage(text: string, extra: Partial<Message> = {}): Message {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [
      { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
    ...extra,
  };
}

export function sendRequest(
  text: string,
  options: { taskId?: string; contextId?: string; returnImmediately?: boolean; historyLength?: number } = {},
): SendMessageRequest {
  return {
    tenant: '',
    message: userMessage(text, {
      ...(options.taskId ? { taskId: options.taskId } : {}),
      ...(options.contextId ? { contextId: options.contextId } : {}),
    }),
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: undefined,
      returnImmediately: options.returnImmediately ?? false,
      historyLength: options.historyLength,
    },
    metadata: undefined,
  };
}

/** ListTasks of one context, every state, first page of up to 10. */
export function listContextRequest(contextId: string): ListTasksRequest {
  return {
    tenant: '',
    contextId,
    status: TaskState.TASK_STATE_UNSPECIFIED,
    pageSize: 10,
    pageToken: '',
    historyLength: 0,
    statusTimestampAfter: undefined,
    includeArtifacts: false,
  };
}

/**
 * Resolves with the task once it is in `state`: follows its stream from any replica, and
 * retries while the task is not stored yet (a takeover stores it) or its stream ended.
 */
export async function waitForTaskState(
  client: Client,
  id: string,
  state: TaskState,
  timeoutMs = 15_000,
): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await client.getTask({ tenant: '', id }).catch(() => undefined);
    if (task?.status?.state === state) return task;
    if (task) {
      try {
        for await (const event of client.resubscribeTask({ tenant: '', id })) {
          const p = event.payload;
          const s = p?.$case === 'task' || p?.$case === 'statusUpdate' ? p.value.status?.state : undefined;
          if (s === state) break;
        }
      } catch {
        // The task finished between the read and the subscribe: read it again.
      }
    } else {
      await new Promise((r) => setTimeout(r, 50)); // not stored yet: nothing to follow
    }
    if (Date.now() > deadline) throw new Error(`task ${id} never reached ${TaskState[state] ?? state}`);
  }
}
