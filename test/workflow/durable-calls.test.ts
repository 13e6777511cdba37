/**
 * Durable calls from agents written in code (`requestContext.call`, `awaitInput`) on one
 * server with the embedded store: results, parallel calls, the human step, cancellation
 * cascading to children, and no deadlock when every worker slot holds a waiting parent.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFor, sendRequest, waitForTaskState } from '../helpers/sdk-client.js';
import { artifactText, effectsAgent, flowAgent, taskWithMessage } from '../helpers/workflow.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('durable calls from code', () => {
  let dir: string;
  let effects: string;
  let server: TestServer;
  let workflow: Client;
  let children: Client;
  const lines = (): string[] => readFileSync(effects, 'utf8').split('\n').filter(Boolean);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentd-durable-'));
    effects = join(dir, 'effects.log');
    writeFileSync(effects, '');
    server = await startServer({
      execution: { maxConcurrentWorkflows: 2 },
      agents: [{ name: 'echo', kind: 'echo', default: true }, effectsAgent(effects, 20), flowAgent(effects)],
    });
    workflow = await clientFor(server.agentUrl('flow'));
    children = await clientFor(server.agentUrl('effects'));
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes with its children’s results, each child run once', async () => {
    const task = (await workflow.sendMessage(sendRequest('one'))) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(task)).toBe('b-a-one!! c-a-one!!');
    for (const child of ['a-one', 'b-a-one!', 'c-a-one!'])
      expect(lines().filter((l) => l === `effect ${child}`)).toHaveLength(1);
  });

  it('waits for the user durably: the answer resumes it, finished calls are not sent again', async () => {
    const asked = (await workflow.sendMessage(sendRequest('ask'))) as Task;
    expect(asked.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const prompt = asked.status?.message?.parts[0]?.content;
    expect(prompt?.$case === 'text' && prompt.value).toBe('Which colour?');
    const starts = lines().filter((l) => l.startsWith('start ') && l.includes('a-ask')).length;
    const done = (await workflow.sendMessage(
      sendRequest('blue', { taskId: asked.id, contextId: asked.contextId }),
    )) as Task;
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactText(done)).toBe('b-a-ask!! c-a-ask!! blue');
    // The resumed run got a, b and c from their checkpoints: no child started again.
    expect(lines().filter((l) => l.startsWith('start ') && l.includes('a-ask')).length).toBe(starts);
    expect(lines().filter((l) => l === 'parent-done ask')).toHaveLength(1);
  });

  it('does not deadlock when every worker slot holds a parent waiting for its children', async () => {
    // Two slots, five parents at once, each waiting on three children (two in parallel).
    const tasks = (await Promise.all(
      [1, 2, 3, 4, 5].map((i) => workflow.sendMessage(sendRequest(`many${i}`))),
    )) as Task[];
    for (const [i, task] of tasks.entries()) {
      expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(artifactText(task)).toBe(`b-a-many${i + 1}!! c-a-many${i + 1}!!`);
    }
  });

  it('cancels the children a canceled workflow waits for', async () => {
    const task = (await workflow.sendMessage(sendRequest('slow', { returnImmediately: true }))) as Task;
    // The first child runs for 20 × 20 ms; wait until it started.
    const deadline = Date.now() + 10_000;
    while (!lines().some((l) => l.startsWith('start a-slow'))) {
      if (Date.now() > deadline) throw new Error('the child never started');
      await new Promise((r) => setTimeout(r, 10));
    }
    const canceled = await workflow.cancelTask({ tenant: '', id: task.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const child = await taskWithMessage(children, 'a-slow');
    expect(child).toBeDefined();
    await waitForTaskState(children, child!.id, TaskState.TASK_STATE_CANCELED);
    expect(lines()).not.toContain('effect a-slow');
    // The workflow stopped: its next steps never started.
    expect(lines().some((l) => l.startsWith('start b-a-slow'))).toBe(false);
  });
});
