/**
 * The per-principal cap (`execution.maxTasksPerPrincipal`): how many tasks one owner may
 * have in flight — submitted or working, running or queued, on any replica — over the
 * store's {@link OwnerQuota}. A task is counted when it is created (or continued after
 * asking for input) and released when it comes to rest: a terminal state, or one that
 * waits for the client (input or auth required). Unowned tasks (the open mode) are not
 * capped: there every caller is the same anonymous admin, bounded by
 * MAX_CONCURRENT_WORKFLOWS and the queue depth instead.
 */
import { err } from '../errors.js';
import type { OwnerQuota, StateStore } from '../store/ports.js';
import type { TaskRun } from './task-run.js';
import { isInterrupted, isTerminal } from './task-state.js';

/**
 * A counted task this recent is never taken for a leak: its first write (a deferred create)
 * or its continuation's save may still be on the way.
 */
const REPAIR_GRACE_MS = 10_000;

export class OwnerCaps {
  private readonly quota: OwnerQuota;

  constructor(
    private readonly store: StateStore,
    private readonly runs: ReadonlyMap<string, TaskRun>,
    /** Tasks in flight per owner at most; 0: no cap. */
    private readonly limit: number,
  ) {
    this.quota = store.quotas;
  }

  /** Whether tasks of `owner` are counted at all. */
  applies(owner: string): boolean {
    return this.limit > 0 && owner !== '';
  }

  /**
   * Counts the task against its owner, or throws TOO_MANY_TASKS (nothing counted). A count
   * that is full is first checked for tasks that ended without their release (a replica
   * died between the final write and the release): those are released, then it is tried again.
   */
  async acquire(owner: string, taskId: string): Promise<void> {
    if (!this.applies(owner)) return;
    if (await this.quota.acquire(owner, taskId, this.limit)) return;
    if ((await this.repair(owner)) > 0 && (await this.quota.acquire(owner, taskId, this.limit))) return;
    throw err(
      'TOO_MANY_TASKS',
      `This caller already has ${this.limit} tasks in flight, the most it may; retry when one ends`,
      { limit: String(this.limit) },
    );
  }

  /** Stops counting the task (idempotent; store trouble is left to the repair). */
  async release(owner: string, taskId: string): Promise<void> {
    if (!this.applies(owner)) return;
    await this.quota.release(owner, taskId);
  }

  /** Releases the owner's counted tasks that are no longer in flight; returns how many. */
  private async repair(owner: string): Promise<number> {
    const now = Date.now();
    let released = 0;
    for (const { taskId, since } of await this.quota.counted(owner)) {
      if (now - since < REPAIR_GRACE_MS) continue;
      const run = this.runs.get(taskId);
      if (run && !isTerminal(run.state) && !isInterrupted(run.state)) continue;
      const stored = await this.store.tasks.get(taskId);
      const state = stored?.task.status?.state;
      const ended = stored
        ? isTerminal(state) || isInterrupted(state)
        : !(await this.store.queue.isLeased(taskId));
      if (!ended) continue;
      await this.quota.release(owner, taskId);
      released++;
    }
    return released;
  }
}
