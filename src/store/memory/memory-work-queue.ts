import { AgentdError } from '../../errors.js';
import type { QueuedWork, WorkItem, WorkQueue } from '../ports.js';

interface Waiting {
  readonly agent: string;
  readonly payload: string;
  /** Runs it had before it waited (a task handed back by requeue); 0 for a new task. */
  readonly attempts: number;
}

/**
 * {@link WorkQueue} for one process: waiting tasks in a FIFO map per agent, leases in a
 * map. Nothing outlives the process, so there is nothing to take over (`durable: false`).
 */
export class MemoryWorkQueue implements WorkQueue {
  readonly durable = false;
  private readonly queues = new Map<string, Map<string, Waiting>>();
  private readonly leases = new Map<string, { agent: string; payload: string; attempt: number }>();
  private readonly workHandlers: Array<() => void> = [];
  private readonly cancelHandlers: Array<(taskId: string) => void> = [];
  private count = 0;

  get waiting(): number {
    return this.count;
  }

  async lease(taskId: string, agent: string, payload: string): Promise<number> {
    const attempt = (this.leases.get(taskId)?.attempt ?? 0) + 1;
    this.leases.set(taskId, { agent, payload, attempt });
    return attempt;
  }

  async push(taskId: string, agent: string, payload: string, maxDepth: number): Promise<void> {
    const queue = this.queueOf(agent);
    if (queue.size >= maxDepth) {
      throw new AgentdError(
        'QUEUE_FULL',
        `All workers for agent "${agent}" are busy and ${queue.size} tasks are queued; retry later`,
        { agent },
      );
    }
    queue.set(taskId, { agent, payload, attempts: 0 });
    this.count++;
    this.notifyWork();
  }

  /** The task's entry, waiting or leased (for backups). */
  entry(taskId: string): QueuedWork | undefined {
    const lease = this.leases.get(taskId);
    if (lease) return { agent: lease.agent, attempt: lease.attempt, payload: lease.payload };
    for (const [agent, queue] of this.queues) {
      const w = queue.get(taskId);
      if (w) return { agent, attempt: w.attempts, payload: w.payload };
    }
    return undefined;
  }

  async take(agents: readonly string[], max: number): Promise<WorkItem[]> {
    const items: WorkItem[] = [];
    for (const agent of agents) {
      const queue = this.queues.get(agent);
      if (!queue) continue;
      for (const [taskId, w] of queue) {
        if (items.length >= max) return items;
        queue.delete(taskId);
        this.count--;
        const attempt = w.attempts + 1;
        this.leases.set(taskId, { agent: w.agent, payload: w.payload, attempt });
        items.push({ taskId, payload: w.payload, attempt });
      }
    }
    return items;
  }

  async ack(taskId: string): Promise<void> {
    this.leases.delete(taskId);
  }

  async requeue(taskId: string, started: boolean): Promise<void> {
    const lease = this.leases.get(taskId);
    if (!lease) return;
    this.leases.delete(taskId);
    // Back to the head of its queue: it waited longest.
    const queue = this.queueOf(lease.agent);
    const rest = [...queue];
    queue.clear();
    const attempts = started ? lease.attempt : lease.attempt - 1;
    queue.set(taskId, { agent: lease.agent, payload: lease.payload, attempts });
    for (const [id, w] of rest) queue.set(id, w);
    this.count++;
    this.notifyWork();
  }

  async remove(taskId: string, agent: string): Promise<boolean> {
    const removed = this.queues.get(agent)?.delete(taskId) ?? false;
    if (removed) this.count--;
    return removed;
  }

  async isLeased(taskId: string): Promise<boolean> {
    return this.leases.has(taskId);
  }

  onWork(handler: () => void): void {
    this.workHandlers.push(handler);
  }

  /** One process: no other replica can take a lease over. */
  onLost(): void {}

  async requestCancel(taskId: string): Promise<void> {
    for (const h of this.cancelHandlers) h(taskId);
  }

  onCancelRequest(handler: (taskId: string) => void): void {
    this.cancelHandlers.push(handler);
  }

  private queueOf(agent: string): Map<string, Waiting> {
    let queue = this.queues.get(agent);
    if (!queue) this.queues.set(agent, (queue = new Map()));
    return queue;
  }

  private notifyWork(): void {
    // Asynchronously, like a notification from another replica: the caller finishes first.
    queueMicrotask(() => {
      for (const h of this.workHandlers) h();
    });
  }
}
