import type { Redis } from 'ioredis';
import type { CheckpointStore } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/** Step results in the hash `{t:<id>}:steps`, which expires and is deleted with the task. */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async get(taskId: string, step: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.steps(taskId), step)) ?? undefined;
  }

  async put(taskId: string, step: string, json: string): Promise<void> {
    await this.redis.hset(this.keys.steps(taskId), step, json);
  }
}
