/**
 * What the workflow tests share: the text a task carries, the side-effect file the fixture
 * agents (effect-agent.mjs, durable-caller.mjs) append to from other processes, a child task
 * found by its message text, and the module agent entries of those fixtures.
 */
import { TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');

/** The text parts of every artifact, joined. */
export function artifactText(task: Task): string {
  return task.artifacts
    .flatMap((a) => a.parts)
    .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
    .join('');
}

/** The text of the task's status message. */
export function statusText(task: Task): string {
  const c = task.status?.message?.parts[0]?.content;
  return c?.$case === 'text' ? c.value : '';
}

/** The lines of a side-effect file written by fixture agents. */
export function effectLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/**
 * Waits until `count` lines of the side-effect file match. The agents write it from other
 * processes, so no event reaches the test: it polls.
 */
export async function waitForLines(
  file: string,
  match: (line: string) => boolean,
  count = 1,
  timeoutMs = 20_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = effectLines(file).filter(match);
    if (found.length >= count) return found;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${count} matching lines; have:\n${effectLines(file).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The agent's task whose history holds a message with exactly this text. */
export async function taskWithMessage(client: Client, text: string): Promise<Task | undefined> {
  const listed = await client.listTasks({
    tenant: '',
    contextId: '',
    status: TaskState.TASK_STATE_UNSPECIFIED,
    pageSize: 100,
    pageToken: '',
    historyLength: 10,
    statusTimestampAfter: undefined,
    includeArtifacts: false,
  });
  return listed.tasks.find((t) =>
    t.history.some((m) => m.parts.some((p) => p.content?.$case === 'text' && p.content.value === text)),
  );
}

/** The `effects` child agent (effect-agent.mjs) writing to `file`. */
export function effectsAgent(file: string, delayMs: number, name = 'effects'): Record<string, unknown> {
  return {
    name,
    kind: 'module',
    module: resolve(FIXTURES, 'effect-agent.mjs'),
    export: 'EffectAgent',
    options: { sideEffects: file, delayMs },
  };
}

/** The `flow` workflow written in code (durable-caller.mjs), calling `child`. */
export function flowAgent(file: string, child = 'effects'): Record<string, unknown> {
  return {
    name: 'flow',
    kind: 'module',
    module: resolve(FIXTURES, 'durable-caller.mjs'),
    export: 'DurableCaller',
    options: { sideEffects: file, child },
  };
}
