/**
 * One run's draft: the task snapshot with the agent's events folded in by the pure reducer,
 * and the stream events that folding staged for the next write. No I/O: the run writes what
 * is staged, then publishes the draft as its snapshot.
 */
import { TaskState } from '@a2a-js/sdk';
import type {
  Message,
  StreamResponse,
  Task,
  TaskArtifactUpdateEvent,
  TaskStatusUpdateEvent,
} from '@a2a-js/sdk';
import type { AgentExecutionEvent } from '@a2a-js/sdk/server';
import type { Logger } from 'pino';
import { isoNow } from './clock.js';
import { applyArtifactUpdate, applyStatusUpdate, mergeTaskEvent } from './reducer.js';
import { isTerminal } from './task-state.js';

export type Payload = NonNullable<StreamResponse['payload']>;

export class RunDraft {
  /** The agent answered with a Message instead of a task (SDK message-only pattern). */
  reply: Message | undefined;
  private staged: Payload[] = [];

  constructor(
    private readonly id: string,
    /** The snapshot with every event applied so far. */
    public task: Task,
    /** The sequence of the last event staged. */
    public seq: number,
    /** When the task's status last changed (epoch ms). */
    public updatedAt: number,
  ) {}

  /** The staged events, handed over for writing (the draft keeps none). */
  take(): Payload[] {
    const staged = this.staged;
    this.staged = [];
    return staged;
  }

  /** A snapshot change that is not a stream event (a user message joining history). */
  replace(task: Task): void {
    this.task = task;
  }

  /** Folds one agent event into the draft and stages what it logs (no I/O). */
  apply(event: AgentExecutionEvent, exposed: boolean, log: Logger): void {
    if (isTerminal(this.task.status?.state) || this.reply) {
      log.warn({ event_kind: event.kind }, 'agent event after the final reply ignored');
      return;
    }
    switch (event.kind) {
      case 'message':
        if (this.seq === 0 && !exposed) {
          this.reply = event.data;
          this.stage({ $case: 'message', value: event.data });
          return;
        }
        this.applyStatus({
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
          log.warn(
            { published_task_id: event.data.id },
            'agent published a task event for another task; ignored',
          );
          return;
        }
        const merged = mergeTaskEvent(this.task, event.data, isoNow());
        if (this.seq === 0) {
          this.commit(merged.task, { $case: 'task', value: merged.task });
          return;
        }
        const { status } = merged.task;
        this.task = { ...merged.task, status: this.task.status, artifacts: this.task.artifacts };
        if (merged.statusChanged && status) {
          this.applyStatus({ taskId: this.id, contextId: this.task.contextId, status, metadata: undefined });
        }
        for (const artifact of merged.artifacts) {
          this.applyArtifact({
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
        this.applyStatus(event.data);
        return;
      case 'artifactUpdate':
        this.applyArtifact(event.data);
        return;
    }
  }

  private applyStatus(update: TaskStatusUpdateEvent): void {
    this.ensureInitialLogged();
    const timestamp = update.status?.timestamp || isoNow();
    const status = update.status?.timestamp
      ? update.status
      : {
          state: update.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED,
          message: update.status?.message,
          timestamp,
        };
    const contextId = this.task.contextId;
    const normalized: TaskStatusUpdateEvent =
      update.taskId === this.id && update.contextId === contextId && status === update.status
        ? update
        : { ...update, taskId: this.id, contextId, status };
    this.updatedAt = Date.now();
    this.commit(applyStatusUpdate(this.task, normalized, timestamp), {
      $case: 'statusUpdate',
      value: normalized,
    });
  }

  private applyArtifact(update: TaskArtifactUpdateEvent): void {
    this.ensureInitialLogged();
    const contextId = this.task.contextId;
    const normalized: TaskArtifactUpdateEvent =
      update.taskId === this.id && update.contextId === contextId
        ? update
        : { ...update, taskId: this.id, contextId };
    this.commit(applyArtifactUpdate(this.task, normalized), { $case: 'artifactUpdate', value: normalized });
  }

  /** The stream of a new task starts with the Task itself (A2A §3.1.2). */
  private ensureInitialLogged(): void {
    if (this.seq === 0) this.commit(this.task, { $case: 'task', value: this.task });
  }

  private commit(next: Task, payload: Payload): void {
    this.task = next;
    this.stage(payload);
  }

  private stage(payload: Payload): void {
    this.staged.push(payload);
    this.seq++;
  }
}
