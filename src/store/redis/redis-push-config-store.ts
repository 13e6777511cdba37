import { TaskPushNotificationConfig } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import type { PushConfigStore } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/** {@link PushConfigStore} on Redis: one hash per task, config id → config JSON. */
export class RedisPushConfigStore implements PushConfigStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async put(config: TaskPushNotificationConfig): Promise<void> {
    await this.redis.hset(
      this.keys.push(config.taskId),
      config.id,
      JSON.stringify(TaskPushNotificationConfig.toJSON(config)),
    );
  }

  async get(taskId: string, configId: string): Promise<TaskPushNotificationConfig | undefined> {
    const json = await this.redis.hget(this.keys.push(taskId), configId);
    return json === null ? undefined : TaskPushNotificationConfig.fromJSON(JSON.parse(json));
  }

  async list(taskId: string): Promise<TaskPushNotificationConfig[]> {
    const all = await this.redis.hvals(this.keys.push(taskId));
    return all.map((json) => TaskPushNotificationConfig.fromJSON(JSON.parse(json)));
  }

  async delete(taskId: string, configId: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.push(taskId), configId)) > 0;
  }
}
