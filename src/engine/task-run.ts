import { Role, TaskState } from '@a2a-js/sdk';
import type {
  Message,
  StreamResponse,
  Task,
  TaskArtifactUpdateEvent,
  TaskPushNotificationConfig,
  TaskStatusUpdateEvent,
} from '@a2a-js/sdk';
import type {
  AgentExecutionEvent,
  EventListener,
  ExecutionEventBus,
  ExecutionEventName,
  FinishedListener,
} from '@a2a-js/sdk/server';
import type { Logger } from 'pino';
import type { StateStore, StoredTask } from '../store/ports.js';
import type { HostedAgent } from './hosted-agent.js';
import type { PushNotifier } from './push-notifier.js';
import { applyArtifactUpdate, applyStatusUpdate, mergeTaskEvent } from './reducer.js';
import { textMessage } from '../agents/parts.js';
import { isoNow } from './clock.js';
import { isInterrupted, isTerminal } from './task-state.js';

/** What a blocking SendMessage returns: the task at rest, or the agent's direct reply. */
export type RunOutcome =
  { readonly kind: 'task'; readonly task: Task } | { readonly kind: 'message'; readonly message: Message };

export interface RunDeps {
  readonly store: StateStore;
  readonly push: PushNotifier;
  readonly logger: Logger;
}

type Payload = NonNullable<StreamResponse['payload']>;

/** Events applied back to back before the drain loop lets the event loop run. */
const YIELD_EVERY = 64;

/**
 * One task's live state in this process while it is queued or executing. Agent events
 * arrive synchronously on the bus and are applied strictly in order by a single drain
 * loop: reducer → event-log append → versioned snapshot save → push notifications. The
 * snapshot (`task`, `lastSeq`) is replaced only after the append, so a reader always sees
 * a snapshot that matches its event-log cursor.
 */
export class TaskRun {
  readonly id: string;
  task: Task;
  lastSeq: number;
  /** Whether the stream's first event (the Task, or a direct Message) is logged. */
  initialLogged: boolean;
  /** A client already holds this task (returnImmediately), so a Message reply completes it. */
  exposed = false;
  executing = false;
  pushConfigs: TaskPushNotificationConfig[] = [];
  bus: RunEventBus | undefined;
  /** 1 for the first run; more when this replica took the task over from one that died. */
  attempt = 1;

  private version: number;
  private updatedAt: number;
  private pending: AgentExecutionEvent[] = [];
  private draining: Promise<void> | undefined;
  private waiters: Array<(outcome: RunOutcome) => void> = [];
  private messageReply: Message | undefined;
  private controller: AbortController | undefined;
  /** The in-memory snapshot has events the stored snapshot lacks. */
  private dirty = false;
  private aborted = false;
  /** This replica gave the task up (shutdown hand-off, lost lease): agent events are dropped. */
  private detached = false;
  private logCache: Logger | undefined;

  constructor(
    private readonly deps: RunDeps,
    readonly agent: HostedAgent,
    stored: StoredTask,
  ) {
    this.id = stored.task.id;
    this.task = stored.task;
    this.version = stored.version;
    this.lastSeq = stored.lastSeq;
    this.updatedAt = stored.updatedAt;
    this.initialLogged = stored.lastSeq > 0;
    this.tenant = stored.tenant;
  }

  readonly tenant: string;

  /** Fires when the task is canceled or the server shuts down (created on first use). */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted && !this.controller.signal.aborted) this.controller.abort();
    return this.controller.signal;
  }

  /** Whether the run was canceled or stopped for shutdown. */
  get isAborted(): boolean {
    return this.aborted;
  }

  /** Cancels the run: its signal fires, and agent events that follow are still applied. */
  abort(): void {
    this.aborted = true;
    this.controller?.abort();
  }

  /**
   * Stops this replica's part in the task without recording anything: the signal fires,
   * later agent events are dropped, and callers waiting for the outcome get the task as
   * it stands. Another replica takes the task from the work queue.
   */
  detach(): void {
    this.abort();
    this.detached = true;
    this.pending = [];
    this.settle({ kind: 'task', task: this.task });
  }

  get isDetached(): boolean {
    return this.detached;
  }

  /**
   * Runs `fn` once per task and message: its result is checkpointed under `key`, and a
   * re-run of the task (a takeover after a crash) returns the checkpoint without calling
   * `fn` again. Results must be JSON-serialisable.
   */
  async step<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    const saved = await this.deps.store.checkpoints.get(this.id, key);
    if (saved !== undefined) return (JSON.parse(saved) as { v?: T }).v as T;
    const value = await fn();
    await this.deps.store.checkpoints.put(this.id, key, JSON.stringify({ v: value }));
    return value;
  }

  /** Logger with the task's correlation fields (pino child loggers are not free: made on first use). */
  get log(): Logger {
    this.logCache ??= this.deps.logger.child({
      agent_name: this.agent.name,
      task_id: this.id,
      context_id: this.task.contextId,
    });
    return this.logCache;
  }

  get state(): TaskState | undefined {
    return this.task.status?.state;
  }

  /** The agent answered with a Message instead of a task (SDK message-only pattern). */
  get reply(): Message | undefined {
    return this.messageReply;
  }

  /** Resolves at the next terminal or interrupted state, or on a direct Message reply. */
  waitForRest(): Promise<RunOutcome> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Accepts an agent event; applied asynchronously, in order. */
  enqueue(event: AgentExecutionEvent): void {
    if (this.detached) return;
    this.pending.push(event);
    if (!this.draining) this.draining = this.drain();
  }

  /** Resolves once every event enqueued so far has been applied. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Records a status change made by the engine itself (cancel, failure, shutdown). */
  async setStatus(state: TaskState, text?: string): Promise<void> {
    this.enqueue({
      kind: 'statusUpdate',
      data: {
        taskId: this.id,
        contextId: this.task.contextId,
        status: {
          state,
          message: text
            ? textMessage(Role.ROLE_AGENT, text, { contextId: this.task.contextId, taskId: this.id })
            : undefined,
          timestamp: isoNow(),
        },
        metadata: undefined,
      },
    });
    await this.flush();
  }

  /** Saves a snapshot change that is not a stream event (a user message joining history). */
  async saveSnapshot(task: Task): Promise<void> {
    this.task = task;
    await this.save();
  }

  private async drain(): Promise<void> {
    try {
      let applied = 0;
      for (let event = this.pending.shift(); event; event = this.pending.shift()) {
        // A burst of events is applied in microtasks; let I/O run now and then so streams
        // see the first events before the last is applied (time to first event).
        if (++applied % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
        try {
          await this.apply(event);
          // One snapshot save per burst of events: the event log already holds each of them.
          if (this.pending.length === 0 && this.dirty) await this.save();
        } catch (error) {
          this.log.error({ err: error }, 'failed to record agent event');
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async apply(event: AgentExecutionEvent): Promise<void> {
    if (isTerminal(this.state) || this.messageReply) {
      this.log.warn({ event_kind: event.kind }, 'agent event after the final reply ignored');
      return;
    }
    switch (event.kind) {
      case 'message':
        if (!this.initialLogged && !this.exposed) {
          this.messageReply = event.data;
          this.lastSeq = await this.append({ $case: 'message', value: event.data });
          this.settle({ kind: 'message', message: event.data });
          return;
        }
        await this.applyStatus({
          taskId: this.id,
          contextId: this.task.contextId,
          status: {
            state: TaskState.TASK_STATE_COMPLETED,
            message: event.data,
            timestamp: isoNow(),
          },
          metadata: undefined,
        });
        return;
      case 'task': {
        if (event.data.id && event.data.id !== this.id) {
          this.log.warn(
            { published_task_id: event.data.id },
            'agent published a task event for another task; ignored',
          );
          return;
        }
        const merged = mergeTaskEvent(this.task, event.data, isoNow());
        if (!this.initialLogged) {
          await this.commit(merged.task, { $case: 'task', value: merged.task });
          return;
        }
        const { status } = merged.task;
        this.task = { ...merged.task, status: this.task.status, artifacts: this.task.artifacts };
        if (merged.statusChanged && status) {
          await this.applyStatus({
            taskId: this.id,
            contextId: this.task.contextId,
            status,
            metadata: undefined,
          });
        }
        for (const artifact of merged.artifacts) {
          await this.applyArtifact({
            taskId: this.id,
            contextId: this.task.contextId,
            artifact,
            append: false,
            lastChunk: true,
            metadata: undefined,
          });
        }
        return;
      }
      case 'statusUpdate':
        await this.applyStatus(event.data);
        return;
      case 'artifactUpdate':
        await this.applyArtifact(event.data);
        return;
    }
  }

  private async applyStatus(update: TaskStatusUpdateEvent): Promise<void> {
    await this.ensureInitialLogged();
    const timestamp = update.status?.timestamp || isoNow();
    const status = update.status?.timestamp
      ? update.status
      : {
          state: update.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED,
          message: update.status?.message,
          timestamp,
        };
    const normalized: TaskStatusUpdateEvent =
      update.taskId === this.id && update.contextId === this.task.contextId && status === update.status
        ? update
        : { ...update, taskId: this.id, contextId: this.task.contextId, status };
    const next = applyStatusUpdate(this.task, normalized, timestamp);
    this.updatedAt = Date.now();
    await this.commit(next, { $case: 'statusUpdate', value: normalized });
  }

  private async applyArtifact(update: TaskArtifactUpdateEvent): Promise<void> {
    await this.ensureInitialLogged();
    const normalized: TaskArtifactUpdateEvent =
      update.taskId === this.id && update.contextId === this.task.contextId
        ? update
        : { ...update, taskId: this.id, contextId: this.task.contextId };
    await this.commit(applyArtifactUpdate(this.task, normalized), {
      $case: 'artifactUpdate',
      value: normalized,
    });
  }

  /** The stream of a new task starts with the Task itself (A2A §3.1.2). */
  private async ensureInitialLogged(): Promise<void> {
    if (!this.initialLogged) await this.commit(this.task, { $case: 'task', value: this.task });
  }

  private async commit(next: Task, payload: Payload): Promise<void> {
    const seq = await this.append(payload);
    // Snapshot and cursor change together, with no await between: a reader never sees one without the other.
    this.lastSeq = seq;
    this.task = next;
    this.dirty = true;
    const state = next.status?.state;
    if (isTerminal(state)) {
      await this.save();
      await this.deps.store.events.close(this.id);
      this.settle({ kind: 'task', task: next });
    } else if (isInterrupted(state)) {
      await this.save();
      this.settle({ kind: 'task', task: next });
    }
  }

  /** Appends to the event log and returns the sequence; the caller moves `lastSeq`. */
  private async append(payload: Payload): Promise<number> {
    const event: StreamResponse = { payload };
    const seq = await this.deps.store.events.append(this.id, event, this.lastSeq + 1);
    this.initialLogged = true;
    if (this.pushConfigs.length > 0) this.deps.push.notify(this.pushConfigs, event);
    return seq;
  }

  private async save(): Promise<void> {
    this.dirty = false;
    const saved = await this.deps.store.tasks.save(
      {
        task: this.task,
        agent: this.agent.name,
        tenant: this.tenant,
        lastSeq: this.lastSeq,
        updatedAt: this.updatedAt,
      },
      this.version,
    );
    this.version = saved.version;
  }

  private settle(outcome: RunOutcome): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(outcome);
  }
}

/**
 * The `ExecutionEventBus` an SDK executor publishes to. `publish` hands the event to the
 * run; listeners registered by the executor itself are honoured too.
 */
export class RunEventBus implements ExecutionEventBus {
  // Few executors listen on their own bus; the sets are real so those that do are served.
  private readonly listeners = { event: new Set<EventListener>(), finished: new Set<FinishedListener>() };

  constructor(private readonly run: TaskRun) {}

  publish(event: AgentExecutionEvent): void {
    this.run.enqueue(event);
    if (this.listeners.event.size > 0) for (const l of this.listeners.event) l(event);
  }

  finished(): void {
    for (const l of this.listeners.finished) l();
  }

  on(eventName: 'event', listener: EventListener): this;
  on(eventName: 'finished', listener: FinishedListener): this;
  on(eventName: ExecutionEventName, listener: EventListener | FinishedListener): this {
    (this.listeners[eventName] as Set<typeof listener>).add(listener);
    return this;
  }

  off(eventName: 'event', listener: EventListener): this;
  off(eventName: 'finished', listener: FinishedListener): this;
  off(eventName: ExecutionEventName, listener: EventListener | FinishedListener): this {
    (this.listeners[eventName] as Set<typeof listener>).delete(listener);
    return this;
  }

  once(eventName: 'event', listener: EventListener): this;
  once(eventName: 'finished', listener: FinishedListener): this;
  once(eventName: ExecutionEventName, listener: EventListener | FinishedListener): this {
    const set = this.listeners[eventName] as Set<(...args: unknown[]) => void>;
    const wrapped = (...args: unknown[]): void => {
      set.delete(wrapped);
      (listener as (...a: unknown[]) => void)(...args);
    };
    set.add(wrapped);
    return this;
  }

  removeAllListeners(eventName?: ExecutionEventName): this {
    if (eventName) this.listeners[eventName].clear();
    else {
      this.listeners.event.clear();
      this.listeners.finished.clear();
    }
    return this;
  }
}
