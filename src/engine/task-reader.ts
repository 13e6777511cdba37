/**
 * The one place a task is loaded for a caller: by agent and tenant (a task of another
 * agent or tenant is not found), folded up to its event log where the snapshot lags.
 */
import type { Message, Task } from '@a2a-js/sdk';
import { err, type AgentdError } from '../errors.js';
import type { StoredTask } from '../store/ports.js';
import type { EngineCore } from './engine-core.js';
import type { HostedAgent } from './hosted-agent.js';
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
  async current(agent: HostedAgent, id: string, tenant: string): Promise<{ task: Task; lastSeq: number }> {
    const run = this.core.runs.get(id);
    if (run) {
      if (run.agent !== agent || run.tenant !== tenant) throw taskNotFound(id);
      return { task: run.task, lastSeq: run.lastSeq };
    }
    const loaded = await this.load(agent, id, tenant);
    const stored = isTerminal(loaded.task.status?.state) ? loaded : await this.replayed(loaded);
    return { task: stored.task, lastSeq: stored.lastSeq };
  }

  /** The stored record, or TASK_NOT_FOUND when it is missing or another agent's or tenant's. */
  async load(agent: HostedAgent, id: string, tenant: string): Promise<StoredTask> {
    const stored = await this.core.store.tasks.get(id);
    if (!stored || stored.agent !== agent.name || stored.tenant !== tenant) throw taskNotFound(id);
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

  /** The tasks a message refers to that the caller may see (others are left out). */
  async referenceTasks(agent: HostedAgent, message: Message, tenant: string): Promise<Task[]> {
    const found: Task[] = [];
    for (const id of message.referenceTaskIds) {
      const stored = await this.core.store.tasks.get(id);
      if (stored && stored.agent === agent.name && stored.tenant === tenant) found.push(stored.task);
    }
    return found;
  }
}

export function taskNotFound(id: string): AgentdError {
  return err('TASK_NOT_FOUND', `Task ${id} not found`, { taskId: id });
}
