/**
 * Agents are code agentd does not control. An executor that publishes malformed events,
 * throws, never finishes, ignores cancel, publishes after the end or publishes too much
 * must fail (or end) only its own task, with a message that says what happened, while the
 * server keeps serving everything else.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTask, listRequest, messageRequest, messageText } from '../helpers/interop.js';
import { clientFor, waitForTaskState } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { spawnAgentd, stopStarted, removeWorkDir, writeConfig } from '../helpers/agentd-process.js';
import { resolve } from 'node:path';

const FIXTURE = resolve('test/fixtures/hostile-agent.mjs');

describe('hostile agents', () => {
  let t: TestServer;
  let hostile: Client;
  let echo: Client;
  beforeAll(async () => {
    t = await startServer({
      agents: [
        { name: 'hostile', kind: 'module', module: FIXTURE },
        { name: 'echo', kind: 'echo', default: true },
      ],
      limits: { maxEventBytes: 64 * 1024, maxTaskBytes: 256 * 1024 },
      execution: { maxConcurrentWorkflows: 2, cancelGraceMs: 200 },
    });
    hostile = await clientFor(t.agentUrl('hostile'));
    echo = await clientFor(t.agentUrl('echo'));
  });
  afterAll(() => t.close());

  const failures: Array<[mode: string, says: string]> = [
    ['v03-task', "has the v0.3 plain-object shape ({kind: 'task', id, ...})"],
    ['v03-status', "has the v0.3 plain-object shape ({kind: 'status-update', id, ...})"],
    [
      'string-state',
      'data.status.state must be a TaskState value such as TaskState.TASK_STATE_COMPLETED (got "completed")',
    ],
    ['no-data', 'event.data must be an object (got nothing)'],
    ['null', 'expected an event object, got null'],
    ['v03-part', 'data.artifact.parts[0] is a v0.3 part ({kind, text})'],
    ['cyclic', 'data.artifact.parts[0].content.value.self.self'],
    ['deep', 'data.artifact.metadata.nested'],
    ['bigint', 'data.artifact.parts[0].content.value.n is a bigint, which JSON cannot represent'],
    ['huge', 'more than the 65536-byte limit per event'],
    ['many', 'published more than the 262144-byte limit for one task'],
  ];

  it.each(failures)(
    'an agent that publishes %s fails its task, saying what was wrong',
    async (mode, says) => {
      const task = asTask(await hostile.sendMessage(messageRequest(`${mode} please`)));
      expect(task.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      const text = messageText(task.status?.message);
      expect(text).toContain('Agent "hostile" published');
      expect(text).toContain(says);
      // What the client got is what is stored.
      const stored = await hostile.getTask({ tenant: '', id: task.id });
      expect(stored.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(messageText(stored.status?.message)).toBe(text);
    },
  );

  it('a nesting too deep is named with the limit', async () => {
    const task = asTask(await hostile.sendMessage(messageRequest('deep')));
    expect(messageText(task.status?.message)).toMatch(/is nested more than 32 levels deep/);
  });

  it('an agent that throws synchronously or rejects fails its task with the error', async () => {
    const sync = asTask(await hostile.sendMessage(messageRequest('sync-throw')));
    expect(sync.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(messageText(sync.status?.message)).toBe('Agent "hostile" failed: thrown synchronously');
    const late = asTask(await hostile.sendMessage(messageRequest('async-throw')));
    expect(late.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(messageText(late.status?.message)).toBe('Agent "hostile" failed: rejected asynchronously');
  });

  it('what an agent publishes after the final state is ignored', async () => {
    const task = asTask(await hostile.sendMessage(messageRequest('after-terminal')));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(messageText(task.status?.message)).toBe('done');
    expect(task.artifacts).toEqual([]);
    const stored = await hostile.getTask({ tenant: '', id: task.id });
    expect(stored.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(stored.artifacts).toEqual([]);
  });

  it('an agent that never finishes works until canceled', async () => {
    const task = asTask(await hostile.sendMessage(messageRequest('never', { returnImmediately: true })));
    await waitForTaskState(hostile, task.id, TaskState.TASK_STATE_WORKING);
    const canceled = await hostile.cancelTask({ tenant: '', id: task.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  it('an agent that ignores cancel is canceled after the grace period, and frees its worker', async () => {
    // Two workers: fill both with agents that will not stop, cancel them, then a third task runs.
    const stuck = await Promise.all(
      [1, 2].map(async () =>
        asTask(await hostile.sendMessage(messageRequest('ignore-cancel', { returnImmediately: true }))),
      ),
    );
    for (const task of stuck) {
      await waitForTaskState(hostile, task.id, TaskState.TASK_STATE_WORKING);
      const canceled = await hostile.cancelTask({ tenant: '', id: task.id, metadata: undefined });
      expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    }
    const next = asTask(await hostile.sendMessage(messageRequest('fine')));
    expect(next.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    // A grace period after the cancel, the agents that never returned hold no worker.
    await eventually(() => t.server.engine.stats().running === 0, 5000, 'workers freed');
  });

  it('through all of it, the server serves: probes, listings and other agents answer', async () => {
    const task = asTask(await echo.sendMessage(messageRequest('still here')));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const listed = await hostile.listTasks(listRequest({ pageSize: 100 }));
    expect(listed.tasks.length).toBeGreaterThanOrEqual(failures.length);
    const states = new Set(listed.tasks.map((x) => x.status?.state));
    expect(states.has(TaskState.TASK_STATE_FAILED)).toBe(true);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    const refused = t.logs.filter((l) => l.msg === 'agent event refused; failing the task');
    expect(refused.length).toBeGreaterThanOrEqual(failures.length);
  });
});

describe('a hostile agent in a real agentd process', () => {
  afterAll(() => {
    stopStarted();
    removeWorkDir();
  });

  it('an executor publishing the v0.3 task shape does not take the process down', async () => {
    const config = writeConfig(
      'hostile.yaml',
      JSON.stringify({
        server: { host: '127.0.0.1', httpPort: 0, transport: 'http' },
        prometheus: { enabled: false },
        agents: [{ name: 'hostile', kind: 'module', module: FIXTURE, default: true }],
      }),
    );
    const agentd = spawnAgentd(['serve', '--config', config]);
    const url = await agentd.url;
    const client = await clientFor(`${url}/a2a/hostile/`);
    const bad = asTask(await client.sendMessage(messageRequest('v03-task')));
    expect(bad.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    const good = asTask(await client.sendMessage(messageRequest('fine')));
    expect(good.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(agentd.child.exitCode).toBeNull();
    expect(agentd.stderr()).not.toMatch(/TypeError/);
  });
});
