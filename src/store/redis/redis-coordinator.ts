import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { TaskCoordinator } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/** Deletes the claim only if this replica still holds it. KEYS: owner. ARGV: replica id. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisCoordinatorOptions {
  /** A claim lapses this long after its replica stops refreshing it (a crashed replica). */
  readonly claimTtlMs: number;
}

/**
 * {@link TaskCoordinator} on Redis: a claim is the key `{t:<id>}:owner` holding this
 * replica's id with a TTL, refreshed every third of the TTL for every task this replica
 * executes; cancel requests are published on one channel that every replica subscribes
 * to (on its own connection, as subscriptions require).
 */
export class RedisCoordinator implements TaskCoordinator {
  readonly replicaId = randomUUID();
  private readonly claims = new Set<string>();
  private readonly handlers: Array<(taskId: string) => void> = [];
  private readonly subscriber: Redis;
  private readonly refresher: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: RedisCoordinatorOptions,
  ) {
    redis.defineCommand('agentdReleaseClaim', { numberOfKeys: 1, lua: RELEASE });
    this.subscriber = redis.duplicate();
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, taskId: string) => {
      for (const h of this.handlers) h(taskId);
    });
    void this.subscriber.subscribe(keys.cancelChannel()).catch(() => {});
    this.refresher = setInterval(() => void this.refresh(), Math.max(100, options.claimTtlMs / 3));
    this.refresher.unref();
  }

  async claim(taskId: string): Promise<void> {
    this.claims.add(taskId);
    await this.redis.set(this.keys.owner(taskId), this.replicaId, 'PX', this.options.claimTtlMs);
  }

  async release(taskId: string): Promise<void> {
    this.claims.delete(taskId);
    const release = (this.redis as unknown as { agentdReleaseClaim(...a: string[]): Promise<number> })
      .agentdReleaseClaim;
    await release.call(this.redis, this.keys.owner(taskId), this.replicaId);
  }

  async isClaimed(taskId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.owner(taskId))) === 1;
  }

  async requestCancel(taskId: string): Promise<void> {
    await this.redis.publish(this.keys.cancelChannel(), taskId);
  }

  onCancelRequest(handler: (taskId: string) => void): void {
    this.handlers.push(handler);
  }

  /** Stops refreshing claims and unsubscribes (they lapse after the TTL). */
  close(): void {
    clearInterval(this.refresher);
    this.subscriber.disconnect();
  }

  private async refresh(): Promise<void> {
    if (this.claims.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of this.claims) pipeline.pexpire(this.keys.owner(id), this.options.claimTtlMs);
    await pipeline.exec().catch(() => {});
  }
}
