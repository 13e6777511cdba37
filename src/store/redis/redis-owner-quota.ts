import type { Redis } from 'ioredis';
import type { CountedTask, OwnerQuota } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Counts ARGV[1] (a task id) in KEYS[1] (the owner's in-flight set, scored by when) unless
 * ARGV[2] tasks are counted already; 1 when the task is counted (also when it already was),
 * 0 when the cap is reached. One key: one Cluster slot. KEYS: set. ARGV: task id, limit, now ms.
 */
const ACQUIRE = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
return 1`;

/** {@link OwnerQuota} on Redis: a sorted set per owner, changed by one atomic script. */
export class RedisOwnerQuota implements OwnerQuota {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('agentdAcquireQuota', { numberOfKeys: 1, lua: ACQUIRE });
  }

  async acquire(owner: string, taskId: string, limit: number): Promise<boolean> {
    const acquire = (this.redis as unknown as { agentdAcquireQuota(...a: string[]): Promise<number> })
      .agentdAcquireQuota;
    const got = await acquire.call(
      this.redis,
      this.keys.ownerQuota(owner),
      taskId,
      String(limit),
      String(Date.now()),
    );
    return got === 1;
  }

  async release(owner: string, taskId: string): Promise<void> {
    await this.redis.zrem(this.keys.ownerQuota(owner), taskId);
  }

  async counted(owner: string): Promise<CountedTask[]> {
    const flat = await this.redis.zrange(this.keys.ownerQuota(owner), 0, -1, 'WITHSCORES');
    const out: CountedTask[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ taskId: flat[i] as string, since: Number(flat[i + 1]) });
    return out;
  }
}
