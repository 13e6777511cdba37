/**
 * The caller's operations against a real agentd: a full SendMessage request (here with
 * `returnImmediately`), GetTask, SubscribeToTask on a running task, SendStreamingMessage,
 * and CancelTask, each through the same pooled, retried, breaker-guarded path.
 */
import { Role, TaskState, type StreamResponse, type Task } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textMessage } from '../../src/agents/parts.js';
import type { AgentCaller } from '../../src/engine/agent-caller.js';
import { AgentdMetrics } from '../../src/observability/metrics.js';
import { testCaller } from '../helpers/caller.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let caller: AgentCaller;
let metrics: AgentdMetrics;

beforeAll(async () => {
  t = await startServer({
    agents: [
      { name: 'echo', kind: 'echo', default: true },
      { name: 'countdown', kind: 'countdown', stepMs: 30 },
    ],
  });
  metrics = new AgentdMetrics({
    service: 'agentd',
    version: 'test',
    environment: 'test',
    activeWorkflows: () => 0,
  });
  caller = testCaller({}, { observer: metrics });
});
afterAll(async () => {
  metrics.close();
  await caller.close();
  await t.close();
});

async function collect(events: AsyncIterable<StreamResponse>): Promise<StreamResponse[]> {
  const all: StreamResponse[] = [];
  for await (const e of events) all.push(e);
  return all;
}

function finalState(events: StreamResponse[]): TaskState | undefined {
  const last = events.at(-1)?.payload;
  if (last?.$case === 'statusUpdate') return last.value.status?.state;
  if (last?.$case === 'task') return last.value.status?.state;
  return undefined;
}

describe('operations on another agent', () => {
  it('sends a full request (returnImmediately), gets the task, and subscribes to it', async () => {
    const url = t.agentUrl('countdown');
    const request = {
      tenant: '',
      message: textMessage(Role.ROLE_USER, '4', { contextId: '', taskId: '' }),
      configuration: {
        acceptedOutputModes: [],
        taskPushNotificationConfig: undefined,
        returnImmediately: true,
      },
      metadata: undefined,
    };
    const submitted = (await caller.send(url, request)) as Task;
    expect(submitted.id).not.toBe('');
    expect(submitted.status?.state).not.toBe(TaskState.TASK_STATE_COMPLETED);

    const events = await collect(caller.subscribe(url, submitted.id));
    expect(finalState(events)).toBe(TaskState.TASK_STATE_COMPLETED);
    const task = await caller.getTask(url, submitted.id);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('streams a message to its final state, counted once as SendStreamingMessage', async () => {
    const events = await collect(caller.stream(t.agentUrl('countdown'), '2'));
    expect(events.length).toBeGreaterThan(2);
    expect(finalState(events)).toBe(TaskState.TASK_STATE_COMPLETED);
    const text = await metrics.exposition();
    expect(text).toContain(
      'a2a_messages_sent_total{message_type="SendStreamingMessage",recipient="countdown"} 1',
    );
  });

  for (const transport of ['rest', 'grpc'] as const) {
    it(`sends and gets the task over ${transport}`, async () => {
      const url = t.agentUrl('echo');
      const task = (await caller.send(url, 'over the wire', { transport })) as Task;
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect((await caller.getTask(url, task.id, { transport })).id).toBe(task.id);
    });
  }

  it('cancels a running task', async () => {
    const url = t.agentUrl('countdown');
    const stream = caller.stream(url, '50');
    const first = await stream.next();
    const taskId = first.value?.payload?.$case === 'task' ? first.value.payload.value.id : '';
    expect(taskId).not.toBe('');
    const canceled = await caller.cancelTask(url, taskId);
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await stream.return();
    await eventually(() => caller.inFlight(url) === 0, 5000, 'calls to end');
  });
});
