import type { CountedTask, OwnerQuota } from '../ports.js';

/** In-process {@link OwnerQuota}: one map of counted task ids per owner. */
export class MemoryOwnerQuota implements OwnerQuota {
  private readonly owners = new Map<string, Map<string, number>>();

  async acquire(owner: string, taskId: string, limit: number): Promise<boolean> {
    let tasks = this.owners.get(owner);
    if (tasks?.has(taskId)) return true;
    if ((tasks?.size ?? 0) >= limit) return false;
    if (!tasks) this.owners.set(owner, (tasks = new Map()));
    tasks.set(taskId, Date.now());
    return true;
  }

  async release(owner: string, taskId: string): Promise<void> {
    const tasks = this.owners.get(owner);
    if (!tasks?.delete(taskId)) return;
    if (tasks.size === 0) this.owners.delete(owner);
  }

  async counted(owner: string): Promise<CountedTask[]> {
    return [...(this.owners.get(owner) ?? [])].map(([taskId, since]) => ({ taskId, since }));
  }
}
