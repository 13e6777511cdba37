import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RetentionPolicy, RunCommit, StateStore, StoredTask } from '../ports.js';
import { RedisAgentRegistry } from './redis-agent-registry.js';
import { RedisCheckpointStore } from './redis-checkpoint-store.js';
import { eventJson, RedisEventLog } from './redis-event-log.js';
import { RedisKeys } from './redis-keys.js';
import { RedisMessageLedger } from './redis-message-ledger.js';
import { RedisOwnerQuota } from './redis-owner-quota.js';
import { RedisPushConfigStore } from './redis-push-config-store.js';
import { RedisTaskStore, type SaveReply } from './redis-task-store.js';
import { RedisWorkQueue } from './redis-work-queue.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';
import { guardUnavailable, toStoreError } from './store-unavailable.js';
import { connectRedis, type ReplicaWait } from './redis-connection.js';
import { describeRedisTarget, type RedisTarget } from './redis-target.js';
import { COMMIT } from './task-lua.js';
import { RedisBackup } from './redis-backup.js';

/** Kept here too: the queue benchmark connects through it. */
export { connectRedis } from './redis-connection.js';

export interface RedisStateStoreOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://` for TLS; or a Cluster or Sentinel target. */
  readonly url: string | RedisTarget;
  /** Prepended to every key, so several deployments can share one Redis. */
  readonly keyPrefix: string;
  readonly retention: RetentionPolicy;
  /** How often finished tasks past the TTL are swept; defaults to min(ttl/2, 30 s). */
  readonly sweepIntervalMs?: number;
  /** Where connection loss and recovery are reported (once per outage, not per retry). */
  readonly logger?: Logger;
  /** A dead replica's tasks are taken over once their lease lapses: this long after its last renewal (default 25 s). */
  readonly leaseMs?: number;
  /** How often lapsed leases are looked for (default min(5 s, leaseMs / 5)). */
  readonly recoverEveryMs?: number;
  /** A finished task's event stream is dropped this long after it closed (default 30 s). */
  readonly closedStreamTtlMs?: number;
  /** Stream followers share a few blocking connections (default true); false: one connection each. */
  readonly sharedStreamReader?: boolean;
  /**
   * When > 0, writes a client is told about (task creation, saves, commits, queue pushes) are
   * followed by `WAIT waitReplicas waitTimeoutMs`: they are on that many replicas before the
   * client hears of them, so a failover does not lose them. Costs a round trip per write.
   */
  readonly waitReplicas?: number;
  /** How long one WAIT may take (default 500 ms); past it the write stands unconfirmed. */
  readonly waitTimeoutMs?: number;
}

/**
 * The production store: every port on one Redis (or Redis Cluster: a task's keys share
 * a hash tag). Any replica sees every task and can stream any task's events.
 */
export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const;
  readonly tasks: RedisTaskStore;
  readonly events: RedisEventLog;
  readonly pushConfigs: RedisPushConfigStore;
  readonly queue: RedisWorkQueue;
  readonly checkpoints: RedisCheckpointStore;
  readonly messages: RedisMessageLedger;
  readonly registry: RedisAgentRegistry;
  readonly quotas: RedisOwnerQuota;
  readonly backup: RedisBackup;
  private readonly redis: Redis;
  private readonly sweeper: NodeJS.Timeout;
  private readonly closedStreamTtlMs: number;
  private readonly keys: RedisKeys;
  private readonly replicated: ReplicaWait | undefined;

  constructor(options: RedisStateStoreOptions) {
    // No ioredis auto-pipelining: it defers every command to the next setImmediate, which
    // cost a third of the throughput in `npm run bench` (1,115 vs 1,516 req/s at 32
    // connections). coalesceWrites batches on process.nextTick instead.
    this.redis = connectRedis(options.url);
    const where = describeRedisTarget(
      typeof options.url === 'string' ? { mode: 'single', url: options.url } : options.url,
    );
    let down = false;
    this.redis.on('error', (error: Error) => {
      if (down) return;
      down = true;
      options.logger?.error({ err: error, redis: where }, 'Redis connection lost; retrying');
    });
    this.redis.on('ready', () => {
      if (!down) return;
      down = false;
      options.logger?.info({ redis: where }, 'Redis connection restored');
    });
    const keys = new RedisKeys(options.keyPrefix);
    this.keys = keys;
    const replicas = options.waitReplicas ?? 0;
    const timeout = String(options.waitTimeoutMs ?? 500);
    this.replicated =
      replicas > 0
        ? async (key) => {
            // Too few replicas by the timeout: the write stands (WAIT answers how many have it).
            // No answer at all (the connection dropped): the client is not told it is safe.
            const [, waited] = (await this.redis.pipeline().exists(key).wait(replicas, timeout).exec()) ?? [];
            if (waited?.[0]) throw waited[0];
          }
        : undefined;
    this.tasks = guardUnavailable(new RedisTaskStore(this.redis, keys, options.retention, this.replicated));
    this.closedStreamTtlMs = options.closedStreamTtlMs ?? 30_000;
    // One XREAD cannot cover streams in different Cluster slots: there every stream reads alone.
    const clustered = typeof options.url !== 'string' && options.url.mode === 'cluster';
    this.events = guardUnavailable(
      new RedisEventLog(
        this.redis,
        keys,
        this.closedStreamTtlMs,
        !clustered && (options.sharedStreamReader ?? true),
      ),
    );
    this.redis.defineCommand('agentdCommit', { numberOfKeys: 5, lua: COMMIT });
    this.pushConfigs = guardUnavailable(new RedisPushConfigStore(this.redis, keys));
    this.registry = guardUnavailable(new RedisAgentRegistry(this.redis, keys));
    const leaseMs = options.leaseMs ?? 25_000;
    this.queue = guardUnavailable(
      new RedisWorkQueue(this.redis, keys, {
        leaseMs,
        recoverEveryMs: options.recoverEveryMs ?? Math.min(5000, leaseMs / 5),
        replicated: this.replicated,
      }),
    );
    this.checkpoints = guardUnavailable(new RedisCheckpointStore(this.redis, keys));
    this.quotas = guardUnavailable(new RedisOwnerQuota(this.redis, keys));
    this.messages = guardUnavailable(
      new RedisMessageLedger(this.redis, keys, 2 * options.retention.maxTerminalTasks),
    );
    this.backup = guardUnavailable(
      new RedisBackup(this.redis, keys, this.tasks, options.keyPrefix, this.closedStreamTtlMs),
    );
    const interval = options.sweepIntervalMs ?? Math.max(10, Math.min(options.retention.ttlMs / 2, 30_000));
    this.sweeper = setInterval(() => void this.tasks.sweep().catch(() => {}), interval);
    this.sweeper.unref();
  }

  async commit(c: RunCommit): Promise<{ firstSeq: number; saved: StoredTask | undefined }> {
    const snapshot = c.snapshot;
    const args = [
      String(c.firstSeq),
      String(c.events.length),
      snapshot ? '1' : '0',
      String(c.close ? this.closedStreamTtlMs : -1),
      ...(snapshot ? this.tasks.saveArgs(snapshot.record, snapshot.expectedVersion) : []),
      ...c.events.map(eventJson),
    ];
    const commit = (this.redis as unknown as { agentdCommit(...a: string[]): Promise<[number, SaveReply]> })
      .agentdCommit;
    try {
      const reply = commit.call(this.redis, ...this.tasks.taskKeys(c.taskId), ...args);
      // Issued in the same tick as the script: the index writes share its round trip.
      const saving = snapshot
        ? this.tasks.saved(
            snapshot.record,
            snapshot.expectedVersion,
            reply.then((r) => r[1]),
            snapshot.previous,
          )
        : undefined;
      const [[firstSeq], saved] = await Promise.all([reply, saving]);
      await this.replicated?.(this.keys.task(c.taskId));
      return { firstSeq: Number(firstSeq), saved };
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** Buckets shared by every replica on this Redis (`maxBuckets` does not apply: idle buckets expire). */
  rateLimiter(): RedisRateLimiter {
    return new RedisRateLimiter(this.redis, this.keys);
  }

  /** Fails fast while Redis is unreachable (readiness turns 503). */
  async ping(): Promise<void> {
    // Lost connections fail at once; a first connection still being made is waited for.
    if (['reconnecting', 'close', 'end'].includes(this.redis.status)) {
      throw new Error(`Redis connection is ${this.redis.status}`);
    }
    await this.redis.ping();
    // Ready includes hearing other replicas' work and cancel notifications.
    await this.queue.ready();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.queue.close();
    this.events.closeFollowers();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
