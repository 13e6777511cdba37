import { Role, TaskState } from '@a2a-js/sdk';
import type { StreamResponse } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HTTP_TRANSPORTS,
  asTask,
  chunkTexts,
  collect,
  describeEvents,
  firstTask,
  messageRequest,
  messageText,
  stateOf,
} from '../helpers/interop.js';
import { clientFor } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const FIXTURE = 'test/fixtures/sdk-executor.mjs';

describe.each(HTTP_TRANSPORTS)(
  'AgentExecutors written for the SDK, hosted as module agents, over %s',
  (transport) => {
    let t: TestServer;
    let custom: Client;
    let broken: Client;
    let greeter: Client;
    beforeAll(async () => {
      t = await startServer(
        {
          agents: [
            { name: 'custom', kind: 'module', module: FIXTURE, export: 'SdkStyleExecutor' },
            { name: 'broken', kind: 'module', module: FIXTURE, export: 'ThrowingExecutor' },
            { name: 'greeter', kind: 'module', module: FIXTURE, export: 'MessageOnlyExecutor' },
          ],
        },
        process.cwd(),
      );
      custom = await clientFor(t.agentUrl('custom'), transport);
      broken = await clientFor(t.agentUrl('broken'), transport);
      greeter = await clientFor(t.agentUrl('greeter'), transport);
    });
    afterAll(() => t.close());

    it('runs unchanged: SendMessage completes with its artifact and the history it built', async () => {
      const request = messageRequest('what is A2A?');
      const task = asTask(await custom.sendMessage(request));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(task.artifacts).toHaveLength(1);
      expect(task.artifacts[0]?.name).toBe('Result');
      expect(task.artifacts[0]?.parts.map((p) => p.content)).toEqual([
        { $case: 'text', value: "You said: 'what is A2A?'" },
      ]);
      // The user message appears once, although both agentd and the executor recorded it.
      expect(task.history.filter((m) => m.messageId === request.message?.messageId)).toHaveLength(1);
      expect(task.history.map((m) => [m.role, messageText(m)])).toEqual([
        [Role.ROLE_USER, 'what is A2A?'],
        [Role.ROLE_AGENT, 'Processing your question'],
      ]);
      const stored = await custom.getTask({ tenant: '', id: task.id });
      expect(stored.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(stored.artifacts).toEqual(task.artifacts);
    });

    it('runs unchanged when streamed: the Task it published first, then WORKING, the artifact, COMPLETED', async () => {
      const events = await collect(custom.sendMessageStream(messageRequest('stream it')));
      expect(describeEvents(events)).toEqual([
        'task:TASK_STATE_SUBMITTED',
        'status:TASK_STATE_WORKING',
        `artifact:${JSON.stringify(["You said: 'stream it'"])}`,
        'status:TASK_STATE_COMPLETED',
      ]);
      const task = firstTask(events);
      for (const e of events.slice(1)) expect((e.payload?.value as { taskId: string }).taskId).toBe(task.id);
      expect(chunkTexts(events)).toEqual(["You said: 'stream it'"]);
    });

    it('an executor that throws yields a FAILED task with a readable message, and the server keeps serving', async () => {
      const failed = asTask(await broken.sendMessage(messageRequest('please fail')));
      expect(failed.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(failed.status?.message?.role).toBe(Role.ROLE_AGENT);
      const reason = messageText(failed.status?.message);
      expect(reason).toContain('broken');
      expect(reason).toContain('model backend unreachable');
      expect(reason).not.toMatch(/\bat .*\.mjs:\d+/); // a message, not a stack trace

      const stored = await broken.getTask({ tenant: '', id: failed.id });
      expect(stored.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(t.logs.some((l) => l.msg === 'agent failed' && l.task_id === failed.id)).toBe(true);

      // Streamed, the failure ends the stream as a FAILED status update.
      const events = await collect(broken.sendMessageStream(messageRequest('fail while streaming')));
      const last = events[events.length - 1] as StreamResponse;
      expect(last.payload?.$case).toBe('statusUpdate');
      expect(stateOf(last)).toBe(TaskState.TASK_STATE_FAILED);
      expect(
        messageText(last.payload?.$case === 'statusUpdate' ? last.payload.value.status?.message : undefined),
      ).toContain('model backend unreachable');

      // Neither failure harmed the server or the other agent.
      const ok = asTask(await custom.sendMessage(messageRequest('still there?')));
      expect(ok.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      const health = await fetch(`${t.url}/health`);
      expect(health.status).toBe(200);
    });

    it('a message-only executor answers with a Message, blocking or streamed, and leaves no task behind', async () => {
      const request = messageRequest('hi', { contextId: `greet-${transport}` });
      const reply = await greeter.sendMessage(request);
      expect('messageId' in reply && !('status' in reply)).toBe(true);
      if (!('messageId' in reply)) throw new Error('expected a Message');
      expect(reply.role).toBe(Role.ROLE_AGENT);
      expect(messageText(reply)).toBe('Hello! You said: hi');
      expect(reply.contextId).toBe(`greet-${transport}`);

      const events = await collect(greeter.sendMessageStream(messageRequest('hi again')));
      expect(describeEvents(events)).toEqual(['message']);

      const listed = await greeter.listTasks({
        tenant: '',
        contextId: '',
        status: TaskState.TASK_STATE_UNSPECIFIED,
        pageToken: '',
        statusTimestampAfter: undefined,
      });
      expect(listed.tasks).toEqual([]);
    });
  },
);
