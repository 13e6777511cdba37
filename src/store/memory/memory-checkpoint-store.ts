import type { CheckpointStore } from '../ports.js';

/** Step results per task, dropped with the task. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly steps = new Map<string, Map<string, string>>();

  async get(taskId: string, step: string): Promise<string | undefined> {
    return this.steps.get(taskId)?.get(step);
  }

  async put(taskId: string, step: string, json: string): Promise<void> {
    let task = this.steps.get(taskId);
    if (!task) this.steps.set(taskId, (task = new Map()));
    task.set(step, json);
  }

  /** The task's step results, step name → JSON (for backups). */
  entries(taskId: string): Array<[string, string]> {
    return [...(this.steps.get(taskId)?.entries() ?? [])];
  }

  deleteTask(taskId: string): void {
    this.steps.delete(taskId);
  }
}
