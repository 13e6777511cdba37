/**
 * Storage ports: the only operations the engine needs from a state store. The in-memory
 * adapter (`store/memory`) is the embedded default; the Redis adapter implements the same
 * contracts, and one conformance suite (`test/store/conformance.ts`) runs against each.
 *
 * Everything is async and cursor-based so a networked store fits without changing callers.
 */
import type { AgentCard, StreamResponse, Task, TaskPushNotificationConfig } from '@a2a-js/sdk';
import type { TaskState } from '@a2a-js/sdk';

/** A task snapshot plus the bookkeeping the engine needs to share it safely. */
export interface StoredTask {
  /** The A2A task snapshot (status, artifacts, history, metadata). */
  readonly task: Task;
  /** Name of the hosted agent that owns the task. */
  readonly agent: string;
  /** Tenant the task was created under (`''` when none). */
  readonly tenant: string;
  /**
   * Id of the principal that created the task (`''` or absent: created in the open mode,
   * unowned). Only that principal, or an admin, sees and manages the task.
   */
  readonly owner?: string | undefined;
  /**
   * Optimistic-concurrency version: 1 on create, +1 on each successful save. A save with
   * a stale `expectedVersion` fails with `TASK_CONFLICT` and changes nothing.
   */
  readonly version: number;
  /** Sequence number of the last event folded into `task` (0 = none yet). */
  readonly lastSeq: number;
  /** Epoch milliseconds of the last status change; ListTasks sorts on it. */
  readonly updatedAt: number;
}

/** Filters and cursor for {@link TaskStore.list}, mirroring A2A ListTasks. */
export interface TaskQuery {
  readonly agent: string;
  readonly tenant: string;
  /**
   * Only the tasks of this owner (see {@link StoredTask.owner}); undefined: every owner's (an
   * admin). Unowned tasks belong to nobody: `''` lists none.
   */
  readonly owner?: string | undefined;
  readonly contextId?: string | undefined;
  readonly state?: TaskState | undefined;
  /** Only tasks whose last status change is at or after this epoch-ms instant. */
  readonly updatedAfter?: number | undefined;
  readonly pageSize: number;
  /** Opaque cursor from a previous page's `nextPageToken` (`''` for the first page). */
  readonly pageToken: string;
}

export interface TaskPage {
  readonly tasks: StoredTask[];
  /** `''` on the last page. */
  readonly nextPageToken: string;
  readonly totalSize: number;
}

/** Task snapshots with optimistic versioning and indexed listing. */
export interface TaskStore {
  /** Stores a new task at version 1. Fails with `TASK_CONFLICT` if the id exists. */
  create(record: Omit<StoredTask, 'version'>): Promise<StoredTask>;
  /** The task, or `undefined` when it does not exist (or has expired). */
  get(taskId: string): Promise<StoredTask | undefined>;
  /**
   * Replaces the snapshot if its stored version equals `expectedVersion`; returns the
   * stored record with the new version. `expectedVersion` 0 creates the task, which must
   * not exist yet (version 1). Terminal snapshots start the retention clock.
   * A writer that knows the record as it last saved it passes it as `previous`: a store
   * with separate indexes can then update them in the same round trip.
   */
  save(
    record: Omit<StoredTask, 'version'>,
    expectedVersion: number,
    previous?: Omit<StoredTask, 'version'>,
  ): Promise<StoredTask>;
  /** Tasks sorted by `updatedAt` descending (ties by id), one page at a time. */
  list(query: TaskQuery): Promise<TaskPage>;
  /** Removes the task; a no-op when absent. */
  delete(taskId: string): Promise<void>;
}

/** One entry of a task's event log. `seq` starts at 1 and increases by 1 per task. */
export interface TaskEventRecord {
  readonly seq: number;
  readonly event: StreamResponse;
}

/** Ordered per-task events with replay from a cursor and live follow. */
export interface EventLog {
  /**
   * Appends an event and returns its sequence number. A task's events have one writer,
   * which passes the sequence it expects the event to get: an append re-sent after a
   * dropped connection, finding that sequence already recorded, is not recorded twice.
   */
  append(taskId: string, event: StreamResponse, expectedSeq?: number): Promise<number>;
  /**
   * Appends several events in order, as one write; returns the sequence of the first. Like
   * `append`, a batch re-sent after a dropped connection, finding its first event already
   * at `expectedFirstSeq`, is not recorded twice.
   */
  appendAll(taskId: string, events: readonly StreamResponse[], expectedFirstSeq?: number): Promise<number>;
  /**
   * Replays events with `seq > afterSeq` in order, then follows new ones live until the
   * signal aborts or the log is closed or deleted. The follower is registered when this
   * is called, not on first iteration, so an event appended after the call is never
   * missed (a task with no events yet is waited for). Followers attached before a delete
   * still receive what was appended before it. Aborting the signal releases the follower
   * even if it was never iterated. Memory is bounded by the log itself: a slow reader
   * holds a cursor, not a private buffer.
   */
  follow(taskId: string, afterSeq: number, signal: AbortSignal): AsyncIterable<TaskEventRecord>;
  /** The events with `seq > afterSeq` that are in the log now (no waiting). */
  read(taskId: string, afterSeq: number): Promise<TaskEventRecord[]>;
  /**
   * Ends every follower of the task once it has read what is already there. A durable
   * log may drop a closed log after a grace period: the task snapshot holds its outcome.
   */
  close(taskId: string): Promise<void>;
  /** Drops the task's events and ends its followers; a no-op when absent. */
  delete(taskId: string): Promise<void>;
  /** Number of live followers across all tasks (for leak checks and metrics). */
  followerCount(): number;
}

/** Push-notification configs, per task. */
export interface PushConfigStore {
  /** Creates or replaces the config with the same `id`. */
  put(config: TaskPushNotificationConfig): Promise<void>;
  get(taskId: string, configId: string): Promise<TaskPushNotificationConfig | undefined>;
  list(taskId: string): Promise<TaskPushNotificationConfig[]>;
  /** Returns whether a config was removed. */
  delete(taskId: string, configId: string): Promise<boolean>;
}

/** How long finished tasks (and their events and push configs) are kept. */
export interface RetentionPolicy {
  /** Terminal tasks are evicted this long after they finished. */
  readonly ttlMs: number;
  /** At most this many terminal tasks are kept; the oldest go first. */
  readonly maxTerminalTasks: number;
  /** Embedded store: terminal tasks kept weigh at most this many bytes (approximate); the oldest go first. */
  readonly maxTerminalBytes?: number;
}

/** A queued task as a worker takes it. */
export interface WorkItem {
  readonly taskId: string;
  /** 1 for the first run; each run that started and did not finish (its replica died or shut down) adds 1. */
  readonly attempt: number;
  /** What the engine stored with the task to run it on any replica (JSON). */
  readonly payload: string;
}

/**
 * Durable execution: every task is recorded here before it runs, as a lease held by the
 * replica running it or as an entry in its agent's waiting queue. Leases are renewed
 * while the replica lives; a lease that lapses (the replica died) puts the task back at
 * the head of its queue, so another replica takes it over. Cancel requests reach the
 * replica holding the lease.
 */
export interface WorkQueue {
  /** Whether queued and leased work outlives this process (false: the embedded store). */
  readonly durable: boolean;
  /** Records that this replica runs the task now; resolves with the attempt number. */
  lease(taskId: string, agent: string, payload: string): Promise<number>;
  /** Queues the task for any replica hosting `agent`; QUEUE_FULL when `maxDepth` already wait. */
  push(taskId: string, agent: string, payload: string, maxDepth: number): Promise<void>;
  /** Takes up to `max` waiting tasks of these agents, oldest first, leasing them to this replica. */
  take(agents: readonly string[], max: number): Promise<WorkItem[]>;
  /** The run is over (finished, interrupted or given up): drops the lease if this replica holds it. */
  ack(taskId: string): Promise<void>;
  /**
   * Hands a leased task back to the head of its queue. `started`: whether it ran here (a
   * shutdown before it finished: the run counts as an attempt); a task taken but never
   * started (no worker slot was left) keeps the attempt count it had.
   */
  requeue(taskId: string, started: boolean): Promise<void>;
  /** Removes a task that is still waiting; whether it was waiting. */
  remove(taskId: string, agent: string): Promise<boolean>;
  /** Whether some live replica holds the task's lease. */
  isLeased(taskId: string): Promise<boolean>;
  /** Tasks waiting for a worker, across replicas, as last seen by this replica. */
  readonly waiting: number;
  /** Called when tasks may be waiting: pushed, handed back, or taken over from a dead replica. */
  onWork(handler: () => void): void;
  /** Called with tasks this replica leased that another replica took over (it was cut off too long). */
  onLost(handler: (taskIds: string[]) => void): void;
  /** Asks whichever replica holds the task's lease to cancel it. */
  requestCancel(taskId: string): Promise<void>;
  /** Registers this replica's handler for cancel requests (any task; the handler filters). */
  onCancelRequest(handler: (taskId: string) => void): void;
}

/**
 * Results of an agent's `step(name, fn)` calls, per task, so a re-run after a takeover
 * skips the steps that finished. Removed with the task.
 */
export interface CheckpointStore {
  get(taskId: string, step: string): Promise<string | undefined>;
  put(taskId: string, step: string, json: string): Promise<void>;
}

/** One agent as a server registered it. */
export interface RegisteredAgent {
  /** The server that hosts it. */
  readonly serverId: string;
  readonly name: string;
  readonly cardUrl: string;
  readonly card: AgentCard;
  /** The region of the server that hosts it (`AGENTD_REGION`), when it has one. */
  readonly region?: string | undefined;
}

/**
 * Which agents the servers sharing this store host. Servers register their agents with a
 * heartbeat; an entry not refreshed within its TTL is gone (a server that died).
 */
export interface AgentRegistry {
  /** Registers or refreshes this server's agents for `ttlMs`. */
  register(
    serverId: string,
    agents: ReadonlyArray<Omit<RegisteredAgent, 'serverId'>>,
    ttlMs: number,
  ): Promise<void>;
  /** Removes this server's entries at once (graceful shutdown). */
  deregister(serverId: string): Promise<void>;
  /** Every live entry, across servers. */
  list(): Promise<RegisteredAgent[]>;
}

/**
 * Which task each accepted message produced, so a message sent again (a client retrying
 * after a timeout) is answered from that task instead of running the agent twice. Keys
 * are opaque (the engine derives them from agent, tenant, task and messageId); entries
 * expire with the retention of finished tasks.
 */
export interface MessageLedger {
  /**
   * Records `value` (the task id) for `key` unless the key is recorded: then nothing
   * changes and the recorded value is returned. Atomic across replicas.
   */
  claim(key: string, value: string, ttlMs: number): Promise<string | undefined>;
  /** The recorded value, if any. */
  get(key: string): Promise<string | undefined>;
  /** Replaces the recorded value (the message got a direct reply instead of a task). */
  settle(key: string, value: string, ttlMs: number): Promise<void>;
  /** Forgets the key (the message was refused before anything ran, so a retry may run it). */
  release(key: string): Promise<void>;
}

/** A task counted against its owner's in-flight cap, and since when (epoch ms). */
export interface CountedTask {
  readonly taskId: string;
  readonly since: number;
}

/**
 * In-flight tasks per owner, for the per-principal cap (`execution.maxTasksPerPrincipal`),
 * shared by every replica. A task is counted by id, so counting it twice, or releasing it
 * twice or on another replica than the one that counted it, is harmless.
 */
export interface OwnerQuota {
  /**
   * Counts the task against `owner` unless `limit` other tasks of the owner are counted;
   * whether the task is counted now (true also when it already was). Atomic across replicas.
   */
  acquire(owner: string, taskId: string, limit: number): Promise<boolean>;
  /** Stops counting the task; a no-op when it is not counted. */
  release(owner: string, taskId: string): Promise<void>;
  /** The owner's counted tasks (to repair a count a replica that died left behind). */
  counted(owner: string): Promise<CountedTask[]>;
}

/** One write of a running task: its new events, then its snapshot, then the close of its log. */
export interface RunCommit {
  readonly taskId: string;
  readonly events: readonly StreamResponse[];
  /** The sequence the writer expects the first event to get (see `EventLog.appendAll`). */
  readonly firstSeq: number;
  readonly snapshot:
    | {
        readonly record: Omit<StoredTask, 'version'>;
        readonly expectedVersion: number;
        /** The record as last saved (see `TaskStore.save`). */
        readonly previous?: Omit<StoredTask, 'version'>;
      }
    | undefined;
  /** Close the log after the events (the task finished). */
  readonly close: boolean;
}

/** What a rate limiter answers for one token taken from one bucket. */
export interface RateDecision {
  readonly allowed: boolean;
  /** When refused: milliseconds until the bucket has a token again. */
  readonly retryAfterMs: number;
}

/**
 * Token buckets by opaque key (the caller builds keys from client IP, principal and agent).
 * A key's limit never changes while it exists. Rejects only when the backend cannot answer;
 * the caller decides what that means (agentd admits the request: fail open).
 */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket, a new full one when the key is unknown. */
  take(key: string, limit: { readonly ratePerSecond: number; readonly burst: number }): Promise<RateDecision>;
}

/** One task as `agentd backup` exports it and `agentd restore` writes it back. */
export interface TaskBackup {
  readonly record: StoredTask;
  /** The event log as far as it is kept (a finished task's log may have expired), in order. */
  readonly events: readonly TaskEventRecord[];
  readonly pushConfigs: readonly TaskPushNotificationConfig[];
  /** Results of the agent's `step()` calls: step name → JSON text. */
  readonly checkpoints: ReadonlyArray<readonly [string, string]>;
  /**
   * The task's work-queue entry when it was waiting for a worker or running (not finished):
   * a restore queues it again, unless the store already has an entry for it, so a replica
   * runs it as after a takeover (its finished steps skipped through the checkpoints).
   */
  readonly work?: QueuedWork | undefined;
}

/** What the work queue holds to run a task on any replica (see {@link WorkQueue}). */
export interface QueuedWork {
  readonly agent: string;
  /** Runs started so far. */
  readonly attempt: number;
  readonly payload: string;
}

/**
 * Export and import of a store's durable records: the tasks, and the queue entries of the
 * tasks not finished. Leases, the registry, the message ledger, quotas and rate-limit
 * buckets are not part of it: they describe running replicas, not the tasks.
 */
export interface StoreBackup {
  /**
   * Every stored task, one at a time (bounded memory). Each task's snapshot is read before
   * its events, and events are appended before the snapshot that folds them, so the events
   * exported reach at least the snapshot's `lastSeq` (unless the log expired, as a finished
   * task's may).
   */
  export(): AsyncIterable<TaskBackup>;
  /**
   * Writes the task and its events, push configs and checkpoints, replacing what is stored
   * for it, unless a version of the task at least as new is stored (then nothing changes and
   * it returns false); `force` writes anyway. A restored finished task starts its retention
   * period anew.
   */
  restore(backup: TaskBackup, force: boolean): Promise<boolean>;
}

/** The set of ports a backend provides, plus its lifecycle. */
export interface StateStore {
  readonly kind: 'memory' | 'redis';
  readonly tasks: TaskStore;
  readonly events: EventLog;
  readonly pushConfigs: PushConfigStore;
  readonly queue: WorkQueue;
  readonly checkpoints: CheckpointStore;
  readonly registry: AgentRegistry;
  readonly messages: MessageLedger;
  readonly quotas: OwnerQuota;
  /**
   * Writes a run's events, snapshot and log close in that order, as one round trip where
   * the backend allows (Redis: one script on the task's slot). Returns the sequence the
   * first event got (0 without events) and the saved snapshot.
   */
  commit(c: RunCommit): Promise<{ firstSeq: number; saved: StoredTask | undefined }>;
  /**
   * A rate limiter on this backend: in process for memory (at most `maxBuckets` buckets,
   * least recently used evicted first), one shared set of buckets for every replica on
   * Redis. Backends without one leave rate limits per process.
   */
  rateLimiter?(options: { readonly maxBuckets: number }): RateLimiter;
  /** Export and import for `agentd backup` / `agentd restore` (backends without one cannot be backed up). */
  readonly backup?: StoreBackup;
  /**
   * Resolves when the backend can serve requests, including delivering the queue's
   * `onWork` and `onCancelRequest` notifications; used by readiness.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
