import type { TaskCoordinator } from '../ports.js';

/** One process is the only replica: claims are a set, cancel requests a direct call. */
export class MemoryCoordinator implements TaskCoordinator {
  private readonly claimed = new Set<string>();
  private readonly handlers: Array<(taskId: string) => void> = [];

  async claim(taskId: string): Promise<void> {
    this.claimed.add(taskId);
  }

  async release(taskId: string): Promise<void> {
    this.claimed.delete(taskId);
  }

  async isClaimed(taskId: string): Promise<boolean> {
    return this.claimed.has(taskId);
  }

  async requestCancel(taskId: string): Promise<void> {
    for (const h of this.handlers) h(taskId);
  }

  onCancelRequest(handler: (taskId: string) => void): void {
    this.handlers.push(handler);
  }
}
