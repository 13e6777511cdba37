/**
 * Principals and call contexts for engine-level authorization tests: the context a
 * transport builds once authentication has put the caller in it.
 */
import { TaskState } from '@a2a-js/sdk';
import type { ListTasksRequest, Task } from '@a2a-js/sdk';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { expect } from 'vitest';
import { AgentdError } from '../../src/errors.js';
import { PRINCIPAL_STATE_KEY, type Principal } from '../../src/security/principal.js';
import type { TaskEngine } from '../../src/engine/task-engine.js';
import type { HostedAgent } from '../../src/engine/hosted-agent.js';

function principal(id: string, admin = false): Principal {
  return { id, scheme: 'apiKey', scopes: new Set(['*']), admin };
}

export const ALICE = principal('alice');
export const BOB = principal('bob');
export const ROOT = principal('root', true);

/** The call context of a request `who` made (none: the open mode's anonymous caller). */
export function as(who?: Principal): ServerCallContext {
  return new ServerCallContext({
    state: new Map<string, unknown>(who ? [[PRINCIPAL_STATE_KEY, who]] : []),
  });
}

/** The error `promise` fails with, as a client sees it: code, message and data with the task id blanked. */
export async function failure(promise: Promise<unknown>, taskId: string): Promise<Record<string, unknown>> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected the call to fail').toBeInstanceOf(AgentdError);
  const e = caught as AgentdError;
  const blank = (s: string): string => s.split(taskId).join('<id>');
  return {
    code: e.code,
    message: blank(e.message),
    data: Object.fromEntries(Object.entries(e.data ?? {}).map(([k, v]) => [k, blank(v)])),
  };
}

/** ListTasks of one context, every state. */
export function listRequest(contextId: string, pageSize = 50, pageToken = ''): ListTasksRequest {
  return {
    tenant: '',
    contextId,
    status: TaskState.TASK_STATE_UNSPECIFIED,
    pageSize,
    pageToken,
    historyLength: 0,
    statusTimestampAfter: undefined,
    includeArtifacts: false,
  };
}

/** Every task of the context `who` sees, page by page; checks each page's totalSize. */
export async function listAll(
  engine: TaskEngine,
  agent: HostedAgent,
  who: Principal | undefined,
  contextId: string,
  pageSize: number,
): Promise<Task[]> {
  const seen: Task[] = [];
  let pageToken = '';
  let total: number | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await engine.listTasks(agent, listRequest(contextId, pageSize, pageToken), as(who));
    total ??= page.totalSize;
    expect(page.totalSize).toBe(total);
    expect(page.tasks.length).toBeLessThanOrEqual(pageSize);
    seen.push(...page.tasks);
    pageToken = page.nextPageToken;
    if (!pageToken) break;
  }
  expect(seen.length).toBe(total);
  return seen;
}

/** Resolves once the task is in `state` as `who` reads it (waiting while it is not stored yet). */
export async function reachesState(
  engine: TaskEngine,
  agent: HostedAgent,
  who: Principal | undefined,
  id: string,
  state: TaskState,
  timeoutMs = 15_000,
): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await engine
      .getTask(agent, { tenant: '', id, historyLength: undefined }, as(who))
      .catch((error: unknown) => {
        if (error instanceof AgentdError && error.code === 'TASK_NOT_FOUND') return undefined;
        throw error;
      });
    if (task?.status?.state === state) return task;
    if (Date.now() > deadline) {
      const now = task ? String(task.status?.state) : 'not found';
      throw new Error(`task ${id} is ${now}, not ${String(state)}, after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
