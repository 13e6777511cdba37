/**
 * Retrying SendMessage against a real agentd is safe: an attempt that timed out while the
 * other agent was still working is resent with the same messageId, and agentd answers it
 * with the task that message produced (as it is now) — the other agent runs once, and the
 * caller follows the task to its end with SubscribeToTask.
 */
import { resolve } from 'node:path';
import { TaskState, type StreamResponse, type Task } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentCaller } from '../../src/engine/agent-caller.js';
import { testCaller } from '../helpers/caller.js';
import { startServer, type TestServer } from '../helpers/server.js';

const COUNTING = resolve('test/fixtures/counting-agent.mjs');
let t: TestServer;
let caller: AgentCaller;

beforeAll(async () => {
  t = await startServer({ agents: [{ name: 'counter', kind: 'module', module: COUNTING, default: true }] });
  caller = testCaller({ retry: { attempts: 6, initialDelayMs: 10, maxDelayMs: 20 } });
});
afterAll(async () => {
  await caller.close();
  await t.close();
});

function statusText(task: Task): string {
  const parts = task.status?.message?.parts ?? [];
  return parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
}

describe('a retried SendMessage to agentd', () => {
  it('runs the other agent once, although the first attempts timed out', async () => {
    const url = t.agentUrl('counter');
    const first = (await caller.send(url, 'warm up')) as Task;
    const before = Number(/run #(\d+)/.exec(statusText(first))?.[1]);

    // "slow" takes 300 ms; each attempt may take 120 ms: the first one times out, and the
    // retry (same messageId) is answered with the task that message produced, still working.
    const task = (await caller.send(url, 'slow', { timeoutMs: 120 })) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const events: StreamResponse[] = [];
    for await (const event of caller.subscribe(url, task.id)) events.push(event);
    expect(events.length).toBeGreaterThan(0);
    const done = await caller.getTask(url, task.id);
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(statusText(done)).toBe(`run #${before + 1}`);

    const next = (await caller.send(url, 'after')) as Task;
    expect(statusText(next)).toBe(`run #${before + 2}`);
  });
});
