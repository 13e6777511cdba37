import type { TaskPushNotificationConfig } from '@a2a-js/sdk';
import type { PushConfigStore } from '../ports.js';

/** In-process {@link PushConfigStore}: task id → config id → config. */
export class MemoryPushConfigStore implements PushConfigStore {
  private readonly byTask = new Map<string, Map<string, TaskPushNotificationConfig>>();

  async put(config: TaskPushNotificationConfig): Promise<void> {
    let configs = this.byTask.get(config.taskId);
    if (!configs) {
      configs = new Map();
      this.byTask.set(config.taskId, configs);
    }
    configs.set(config.id, config);
  }

  async get(taskId: string, configId: string): Promise<TaskPushNotificationConfig | undefined> {
    return this.byTask.get(taskId)?.get(configId);
  }

  async list(taskId: string): Promise<TaskPushNotificationConfig[]> {
    return [...(this.byTask.get(taskId)?.values() ?? [])];
  }

  async delete(taskId: string, configId: string): Promise<boolean> {
    const configs = this.byTask.get(taskId);
    if (!configs?.delete(configId)) return false;
    if (configs.size === 0) this.byTask.delete(taskId);
    return true;
  }

  /** Drops every config of a task (retention). */
  deleteTask(taskId: string): void {
    this.byTask.delete(taskId);
  }
}
