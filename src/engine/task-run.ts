import { Role, TaskState } from '@a2a-js/sdk';
import type { Message, StreamResponse, Task, TaskPushNotificationConfig } from '@a2a-js/sdk';
import type { AgentExecutionEvent } from '@a2a-js/sdk/server';
import type { Logger } from 'pino';
import type { StateStore, StoredTask } from '../store/ports.js';
import type { BusinessMetricsApi, HostedAgent } from './hosted-agent.js';
import type { PushNotifier } from './push-notifier.js';
import { textMessage } from '../agents/parts.js';
import { isoNow } from './clock.js';
import { traceFields } from '../observability/tracing.js';
import type { AgentCaller } from './agent-caller.js';
import type { Context } from '@opentelemetry/api';
import { isInterrupted, isTerminal } from './task-state.js';
import { checkAgentEvent, type EventLimits } from './agent-events.js';
import type { RunEventBus } from './run-event-bus.js';
import { RunDraft } from './run-draft.js';
import type { OwnerCaps } from './owner-caps.js';
import type { WorkerSlot } from './worker-slots.js';
import type { ChildInvoker } from '../workflow/children.js';
import type { DurableCalls } from '../workflow/durable-calls.js';
import type { Tracing } from '../observability/tracing.js';
import type { EngineObserver } from '../observability/metrics.js';

/** What a blocking SendMessage returns: the task at rest, or the agent's direct reply. */
export type RunOutcome =
  { readonly kind: 'task'; readonly task: Task } | { readonly kind: 'message'; readonly message: Message };

export interface RunDeps {
  readonly store: StateStore;
  readonly push: PushNotifier;
  readonly logger: Logger;
  readonly business?: BusinessMetricsApi | undefined;
  readonly caller?: AgentCaller | undefined;
  readonly limits: RunLimits;
  /** The per-principal cap: a run releases its task's count when the task comes to rest. */
  readonly ownerCaps?: OwnerCaps | undefined;
  /** Reaches other agents for durable calls and workflow steps (in process or over A2A). */
  readonly children?: ChildInvoker | undefined;
  /** Spans for workflow steps. */
  readonly tracing?: Tracing | undefined;
  /** Told of workflow steps (metrics). */
  readonly observer?: Pick<EngineObserver, 'workflowStep' | 'routed'> | undefined;
}

/** What one task may hold: per event (see {@link EventLimits}) and in all its events. */
export interface RunLimits extends EventLimits {
  /** Approximate bytes of all events an agent publishes for one task. */
  readonly maxTaskBytes: number;
}

/** Events written in one round trip at most; the drain lets I/O run between batches. */
const BATCH_MAX = 64;
/** While a task works, its snapshot is saved at most this often (always when it comes to rest). */
const SNAPSHOT_EVERY_MS = 250;

/**
 * One task's live state in this process while it is queued or executing. Agent events
 * arrive synchronously on the bus and are applied strictly in order by a single drain
 * loop, a batch at a time: reducer → event-log append → versioned snapshot save → push
 * notifications. The snapshot (`task`, `lastSeq`) is replaced only after the append, so a
 * reader always sees a snapshot that matches its event-log cursor.
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
  /** The message ledger's key for the message this run answers (a direct reply is recorded there). */
  messageKey: string | undefined;
  /** The request that started this run (its `x-request-id`), for log correlation. */
  requestId: string | undefined;
  /** The trace context of the request's server span: parent of the run's outbound spans. */
  traceContext: Context | undefined;
  /**
   * Called in the same tick as the write of the task's final state is sent, so what
   * follows it (ending the task's lease) goes out in the same round trip, after it.
   */
  onFinalWrite: (() => void) | undefined;
  /** The worker slot the run executes in (lent out while it waits on children). */
  slot: WorkerSlot | undefined;
  /** Its checkpointed calls to other agents (made with the request context). */
  durable: DurableCalls | undefined;

  /** The snapshot with the events applied but not yet written; `task` catches up after each write. */
  /** The snapshot with the events applied but not yet written, and those events. */
  private readonly draft: RunDraft;
  /** When the snapshot was last saved; a deferred save is due / scheduled. */
  private savedAt = 0;
  private saveDue = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private version: number;
  /** The record as the store last saved it (where its indexes have the task). */
  private savedRecord: Omit<StoredTask, 'version'>;
  private pending: AgentExecutionEvent[] = [];
  private draining: Promise<void> | undefined;
  private waiters: Array<(outcome: RunOutcome) => void> = [];
  private controller: AbortController | undefined;
  /** The in-memory snapshot has events the stored snapshot lacks. */
  private dirty = false;
  private aborted = false;
  /** This replica gave the task up (shutdown hand-off, lost lease): agent events are dropped. */
  private detached = false;
  private logCache: Logger | undefined;
  /** Approximate bytes the agent has published for this task. */
  private publishedBytes = 0;
  /** An agent event was refused and the task failed for it. */
  private rejected = false;
  private gaveUp = false;
  private givenUpPromise: Promise<void> | undefined;
  private resolveGivenUp: (() => void) | undefined;

  constructor(
    /** What the run and the agent's handle on it use (see TaskRunHandle). */
    readonly deps: RunDeps,
    readonly agent: HostedAgent,
    stored: StoredTask,
  ) {
    this.id = stored.task.id;
    this.task = stored.task;
    this.draft = new RunDraft(this.id, stored.task, stored.lastSeq, stored.updatedAt);
    this.savedRecord = stored;
    this.version = stored.version;
    this.lastSeq = stored.lastSeq;
    this.initialLogged = stored.lastSeq > 0;
    this.tenant = stored.tenant;
    this.owner = stored.owner ?? '';
  }

  readonly tenant: string;
  /** The principal that created the task (`''`: unowned, the open mode). */
  readonly owner: string;

  /**
   * Stops counting the task against its owner's in-flight cap (it came to rest or is gone).
   * Safe to call more than once; a failed release is repaired when the owner hits the cap.
   */
  releaseOwnerSlot(): void {
    const caps = this.deps.ownerCaps;
    if (!caps?.applies(this.owner)) return;
    void caps
      .release(this.owner, this.id)
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not release the owner task count'));
  }

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
    clearTimeout(this.saveTimer);
    this.pending = [];
    this.settle({ kind: 'task', task: this.task });
  }

  get isDetached(): boolean {
    return this.detached;
  }

  /** Resolves when the engine stops waiting for the agent (see {@link TaskRun.giveUp}). */
  get givenUp(): Promise<void> {
    this.givenUpPromise ??= new Promise((resolve) => (this.resolveGivenUp = resolve));
    if (this.gaveUp) this.resolveGivenUp?.();
    return this.givenUpPromise;
  }

  get isGivenUp(): boolean {
    return this.gaveUp;
  }

  /** The task ended without the agent (canceled): the engine no longer waits for its executor. */
  giveUp(): void {
    this.gaveUp = true;
    this.resolveGivenUp?.();
  }

  /** Logger with the task's correlation fields (pino child loggers are not free: made on first use). */
  get log(): Logger {
    this.logCache ??= this.deps.logger.child({
      ...(this.requestId ? { request_id: this.requestId } : {}),
      ...traceFields(this.traceContext),
      agent_name: this.agent.name,
      task_id: this.id,
      context_id: this.task.contextId,
      message_id: lastUserMessageId(this.task),
    });
    return this.logCache;
  }

  get state(): TaskState | undefined {
    return this.task.status?.state;
  }

  /** The agent answered with a Message instead of a task (SDK message-only pattern). */
  get reply(): Message | undefined {
    return this.draft.reply;
  }

  /** Resolves at the next terminal or interrupted state, or on a direct Message reply. */
  waitForRest(): Promise<RunOutcome> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * An event the agent published: checked, then applied like any other. A malformed event,
   * or one past the task's byte budget, fails the task with a message that says what was
   * wrong; the run is aborted so the agent can stop, and what it publishes after is ignored.
   */
  publish(event: unknown): boolean {
    if (this.detached || this.rejected) return false;
    const { limits } = this.deps;
    const checked = checkAgentEvent(event, limits);
    if (typeof checked === 'string') {
      this.reject(`published an invalid event: ${checked}`);
      return false;
    }
    this.publishedBytes += checked.bytes;
    if (this.publishedBytes > limits.maxTaskBytes) {
      this.reject(
        `published more than the ${limits.maxTaskBytes}-byte limit for one task (about ${this.publishedBytes} bytes)`,
      );
      return false;
    }
    this.enqueue(checked.event);
    return true;
  }

  /** Accepts an event; applied asynchronously, in order. */
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
    this.enqueue(this.statusEvent(state, text));
    await this.flush();
  }

  private statusEvent(state: TaskState, text?: string): AgentExecutionEvent {
    return {
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
    };
  }

  /** Fails the task for what its agent did (`problem` completes "Agent "x" ..."). */
  private reject(problem: string): void {
    this.rejected = true;
    const text = `Agent "${this.agent.name}" ${problem}`;
    this.log.error({ problem }, 'agent event refused; failing the task');
    if (!isTerminal(this.draft.task.status?.state) && !this.draft.reply)
      void this.setStatus(TaskState.TASK_STATE_FAILED, text).catch(() => {});
    this.abort();
  }

  /**
   * The record the store's indexes hold for this task, when it differs from the one the
   * run started from (a snapshot brought up to date from the event log).
   */
  indexedAs(record: Omit<StoredTask, 'version'>): void {
    this.savedRecord = record;
  }

  /** Saves a snapshot change that is not a stream event (a user message joining history). */
  async saveSnapshot(task: Task): Promise<void> {
    this.task = task;
    this.draft.replace(task);
    await this.save(task, this.lastSeq);
  }

  /**
   * Applies what the agent published, a batch at a time: each batch is folded into a
   * draft snapshot with the pure reducer, then its events, the snapshot (at the end of a
   * burst, or when the task comes to rest) and the close of a finished log are written in
   * one round trip, in that order on one connection. Only then do readers see the new
   * snapshot, waiters settle and webhooks hear of the events.
   */
  private async drain(): Promise<void> {
    try {
      await this.drainBatches();
    } catch (error) {
      // Never a rejection nobody handles: that would end the process.
      this.log.error({ err: error }, 'task event loop failed');
    } finally {
      this.draining = undefined;
    }
  }

  private async drainBatches(): Promise<void> {
    // The agent's synchronous burst of publishes arrives first and is written together.
    await Promise.resolve();
    while (this.pending.length > 0 || this.saveDue) {
      const batch = this.pending.splice(0, BATCH_MAX);
      for (const event of batch) {
        try {
          this.draft.apply(event, this.exposed, this.log);
        } catch (error) {
          // A bug or an event the checks let through: that task fails, the process serves on.
          this.log.error({ err: error, event_kind: event.kind }, 'could not apply an event');
          try {
            if (!isTerminal(this.draft.task.status?.state))
              this.draft.apply(
                this.statusEvent(TaskState.TASK_STATE_FAILED, `Could not apply an event: ${String(error)}`),
                this.exposed,
                this.log,
              );
          } catch (again) {
            this.log.error({ err: again }, 'could not record the failure either');
          }
        }
      }
      try {
        await this.write();
      } catch (error) {
        this.log.error({ err: error }, 'failed to record agent events');
      }
      // A long burst: let I/O run between batches, so streams see the first events early.
      if (this.pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Writes the staged events (and the snapshot when due), then publishes the draft. */
  private async write(): Promise<void> {
    const staged = this.draft.take();
    const task = this.draft.task;
    const seq = this.draft.seq;
    const state = task.status?.state;
    const final = isTerminal(state);
    const atRest = final || isInterrupted(state);
    const events = staged.map((payload): StreamResponse => ({ payload }));
    if (events.length > 0) this.dirty = true;
    // The snapshot is saved when the task comes to rest, and otherwise at most every
    // SNAPSHOT_EVERY_MS while it works (the log has every event; readers on other replicas
    // fold in the ones a snapshot lacks). A slow stream of events thus costs one small append
    // per event, not one save of the whole, growing task.
    const now = Date.now();
    const saveNow =
      this.dirty &&
      (atRest || this.saveDue || (this.pending.length === 0 && now - this.savedAt >= SNAPSHOT_EVERY_MS));
    this.saveDue = false;
    if (saveNow) {
      this.savedAt = now;
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    } else if (this.dirty || events.length > 0) {
      this.saveTimer ??= setTimeout(() => {
        this.saveTimer = undefined;
        if (this.detached) return;
        this.saveDue = true;
        this.draining ??= this.drain();
      }, SNAPSHOT_EVERY_MS).unref();
    }
    const first = seq - events.length + 1;
    const record = this.record(task, seq);
    const commit = async (): Promise<void> => {
      if (saveNow) this.dirty = false;
      const { firstSeq, saved } = await this.deps.store.commit({
        taskId: this.id,
        events,
        firstSeq: first,
        snapshot: saveNow ? { record, expectedVersion: this.version, previous: this.savedRecord } : undefined,
        close: final && events.length > 0,
      });
      if (events.length > 0 && firstSeq !== first)
        this.log.error({ expected: first, got: firstSeq }, 'event log sequence diverged from the run');
      if (saved) {
        this.version = saved.version;
        this.savedRecord = record;
      }
    };
    try {
      if (events.length > 0 || saveNow) {
        const written = commit();
        if (final) this.onFinalWrite?.();
        // Sent right behind the write of the resting state (same tick, same connection): a
        // client that sees the task at rest finds its place already free.
        if (atRest && saveNow) this.releaseOwnerSlot();
        await written;
      }
    } finally {
      this.task = task;
      this.lastSeq = seq;
      if (events.length > 0) this.initialLogged = true;
      if (this.pushConfigs.length > 0)
        for (const e of events) this.deps.push.notify(this.pushConfigs, e, this.traceContext);
      const reply = this.draft.reply;
      if (reply && seq === 1) this.settle({ kind: 'message', message: reply });
      else if (atRest && events.length > 0) this.settle({ kind: 'task', task });
    }
  }

  private async save(task: Task, lastSeq: number): Promise<void> {
    this.dirty = false;
    const record = this.record(task, lastSeq);
    const saved = await this.deps.store.tasks.save(record, this.version, this.savedRecord);
    this.version = saved.version;
    this.savedRecord = record;
  }

  private record(task: Task, lastSeq: number): Omit<StoredTask, 'version'> {
    return {
      task,
      agent: this.agent.name,
      tenant: this.tenant,
      owner: this.owner,
      lastSeq,
      updatedAt: this.draft.updatedAt,
    };
  }

  private settle(outcome: RunOutcome): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(outcome);
  }
}

/** The id of the task's latest user message (the one a run answers). */
function lastUserMessageId(task: Task): string | undefined {
  for (let i = task.history.length - 1; i >= 0; i--) {
    const m = task.history[i];
    if (m?.role === Role.ROLE_USER) return m.messageId;
  }
  return undefined;
}
