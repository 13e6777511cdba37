/**
 * The one place a task is loaded for a caller: by agent, tenant and owner (a task of
 * another agent or tenant, or one the caller may not see, is not found — the same answer
 * as for a task that does not exist), folded up to its event log where the snapshot lags.
 */
import type { Message, Task } from '@a2a-js/sdk';
import { err, type AgentdError } from '../errors.js';
import type { Principal } from '../security/principal.js';
import type { StoredTask } from '../store/ports.js';
import type { EngineCore } from './engine-core.js';
import type { HostedAgent } from './hosted-agent.js';
import { mayAccess } from './ownership.js';
import { applyStreamEvent } from './reducer.js';
import { isTerminal } from './task-state.js';

export class TaskReader {
  constructor(private readonly core: EngineCore) {}

  /**
   * The freshest view of a task: the live run if it executes here, else the stored
   * snapshot plus the logged events it does not have yet. The replica running a task
   * appends each event before it saves the snapshot, so a client that saw an event on a
   * stream from one replica finds it in GetTask on any other.
   */
  async current(
    agent: HostedAgent,
    id: string,
    tenant: string,
    principal: Principal,
  ): Promise<{ task: Task; lastSeq: number }> {
    const run = this.core.runs.get(id);
    if (run) {
      if (run.agent !== agent || run.tenant !== tenant || !mayAccess(principal, run.owner))
        throw taskNotFound(id);
      return { task: run.task, lastSeq: run.lastSeq };
    }
    const loaded = await this.load(agent, id, tenant, principal);
    const stored = isTerminal(loaded.task.status?.state) ? loaded : await this.replayed(loaded);
    return { task: stored.task, lastSeq: stored.lastSeq };
  }

  /**
   * The stored record, or TASK_NOT_FOUND when it is missing, another agent's or tenant's, or
   * one `principal` may not see (see {@link mayAccess}).
   */
  async load(agent: HostedAgent, id: string, tenant: string, principal: Principal): Promise<StoredTask> {
    const stored = await this.core.store.tasks.get(id);
    if (
      !stored ||
      stored.agent !== agent.name ||
      stored.tenant !== tenant ||
      !mayAccess(principal, stored.owner)
    )
      throw taskNotFound(id);
    return stored;
  }

  /** The stored snapshot plus any logged events it lacks. */
  async replayed(stored: StoredTask): Promise<StoredTask> {
    const events = await this.core.store.events.read(stored.task.id, stored.lastSeq);
    if (events.length === 0) return stored;
    let task = stored.task;
    for (const record of events) task = applyStreamEvent(task, record.event);
    return { ...stored, task, lastSeq: events[events.length - 1]?.seq ?? stored.lastSeq };
  }

  /**
   * The tasks a message refers to that the owner of the task it runs in may see (others are
   * left out). An unowned task (the open mode) may refer to any task.
   */
  async referenceTasks(agent: HostedAgent, message: Message, tenant: string, owner: string): Promise<Task[]> {
    const found: Task[] = [];
    for (const id of message.referenceTaskIds) {
      const stored = await this.core.store.tasks.get(id);
      if (
        stored &&
        stored.agent === agent.name &&
        stored.tenant === tenant &&
        (owner === '' || stored.owner === owner)
      )
        found.push(stored.task);
    }
    return found;
  }
}

export function taskNotFound(id: string): AgentdError {
  return err('TASK_NOT_FOUND', `Task ${id} not found`, { taskId: id });
}
