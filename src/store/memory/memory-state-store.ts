import type { RetentionPolicy, RunCommit, StateStore, StoredTask } from '../ports.js';
import { MemoryAgentRegistry } from './memory-agent-registry.js';
import { MemoryCheckpointStore } from './memory-checkpoint-store.js';
import { MemoryEventLog } from './memory-event-log.js';
import { MemoryPushConfigStore } from './memory-push-config-store.js';
import { MemoryTaskStore } from './memory-task-store.js';
import { MemoryWorkQueue } from './memory-work-queue.js';
import { MemoryMessageLedger } from './memory-message-ledger.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { MemoryOwnerQuota } from './memory-owner-quota.js';
import { MemoryBackup } from './memory-backup.js';

export interface MemoryStateStoreOptions {
  readonly retention: RetentionPolicy;
  /** Events kept per task before the oldest are dropped. */
  readonly maxEventsPerTask?: number;
  /** How often expired tasks are swept; defaults to min(ttl/2, 30 s). */
  readonly sweepIntervalMs?: number;
}

/**
 * The embedded store: no server needed. Memory stays bounded: terminal tasks, their
 * events and their push configs are evicted together after `retention.ttlMs` or when more
 * than `retention.maxTerminalTasks` have finished, oldest first.
 */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  readonly tasks: MemoryTaskStore;
  readonly events: MemoryEventLog;
  readonly pushConfigs: MemoryPushConfigStore;
  readonly queue = new MemoryWorkQueue();
  readonly checkpoints = new MemoryCheckpointStore();
  readonly registry = new MemoryAgentRegistry();
  readonly quotas = new MemoryOwnerQuota();
  /** Twice as many messages as finished tasks are kept (each task's first and a follow-up), within 32 MiB. */
  readonly messages: MemoryMessageLedger;
  readonly backup: MemoryBackup;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: MemoryStateStoreOptions) {
    this.events = new MemoryEventLog(options.maxEventsPerTask);
    this.messages = new MemoryMessageLedger(2 * options.retention.maxTerminalTasks, 32 * 1024 * 1024);
    this.pushConfigs = new MemoryPushConfigStore();
    this.tasks = new MemoryTaskStore(
      options.retention.maxTerminalTasks,
      (taskId) => {
        void this.events.delete(taskId);
        this.pushConfigs.deleteTask(taskId);
        this.checkpoints.deleteTask(taskId);
      },
      options.retention.maxTerminalBytes,
    );
    this.backup = new MemoryBackup(this);
    const interval = options.sweepIntervalMs ?? Math.max(10, Math.min(options.retention.ttlMs / 2, 30_000));
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
  }

  /** Evicts every terminal task older than the TTL; returns how many went. */
  sweep(now = Date.now()): number {
    return this.tasks.evictFinishedBefore(now - this.options.retention.ttlMs);
  }

  async commit(c: RunCommit): Promise<{ firstSeq: number; saved: StoredTask | undefined }> {
    const firstSeq = c.events.length > 0 ? await this.events.appendAll(c.taskId, c.events) : 0;
    const saved = c.snapshot
      ? await this.tasks.save(c.snapshot.record, c.snapshot.expectedVersion)
      : undefined;
    if (c.close) await this.events.close(c.taskId);
    return { firstSeq, saved };
  }

  /** Buckets in this process, at most `maxBuckets` of them. */
  rateLimiter(options: { readonly maxBuckets: number }): MemoryRateLimiter {
    return new MemoryRateLimiter(options.maxBuckets);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
