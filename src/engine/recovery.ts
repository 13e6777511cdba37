/**
 * Work that crosses replicas: running a task taken from the queue (queued anywhere, or
 * taken over from a replica that died), the attempt policy, cancels and blocking sends
 * answered by the replica that executes the task, and what a drain leaves behind.
 */
import { SendMessageRequest as SendMessageRequestCodec, Task as TaskCodec, TaskState } from '@a2a-js/sdk';
import type { Task } from '@a2a-js/sdk';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { isAgentdError } from '../errors.js';
import { PRINCIPAL_STATE_KEY } from '../security/principal.js';
import { principalFromRecord } from '../security/principal-record.js';
import { userOf } from '../security/sdk-user.js';
import type { StoredTask, TaskEventRecord, WorkItem } from '../store/ports.js';
import type { EngineCore } from './engine-core.js';
import type { QueuedRequest } from './queued-request.js';
import { applyStreamEvent } from './reducer.js';
import type { RunExecutor } from './run-executor.js';
import { TaskRun, type RunOutcome } from './task-run.js';
import type { TaskReader } from './task-reader.js';
import { isInterrupted, isTerminal } from './task-state.js';
import type { WorkerSlot } from './worker-slots.js';

/** Task metadata key with the attempt number, set from the second attempt on. */
export const ATTEMPT_KEY = 'agentd.attempt';

export class Recovery {
  constructor(
    private readonly core: EngineCore,
    private readonly reader: TaskReader,
    private readonly executor: RunExecutor,
  ) {
    const { queue } = core.store;
    // A cancel requested on another replica arrives here; only the executing replica acts.
    queue.onCancelRequest((taskId) => {
      const run = core.runs.get(taskId);
      if (run && !isTerminal(run.state)) {
        void executor
          .cancel(run, 'canceled from another replica')
          .catch((error: unknown) =>
            run.log.error({ err: error }, 'cancel requested by another replica failed'),
          );
      }
    });
    queue.onLost((taskIds) => {
      for (const id of taskIds) {
        const run = core.runs.get(id);
        if (!run) continue;
        run.log.warn(
          'another replica took this task over (this one was cut off from the store); stopping here',
        );
        run.detach();
      }
    });
  }

  /**
   * Runs a task taken from the queue: queued here or on another replica, or taken over
   * from a replica that died. The snapshot is brought up to the event log first (the dead
   * replica may have logged events it never saved), then the agent runs again.
   */
  async resume(item: WorkItem, slot: WorkerSlot): Promise<void> {
    const { store, agents, options } = this.core;
    try {
      const queued = JSON.parse(item.payload) as QueuedRequest;
      const agent = agents.get(queued.agent);
      const found = (await store.tasks.get(item.taskId)) ?? (await this.storeDeferred(queued));
      if (!agent || !found || found.agent !== agent.name) {
        await store.queue.ack(item.taskId);
        return;
      }
      const stored = await this.reader.replayed(found);
      const run = new TaskRun(this.core.runDeps, agent, stored);
      run.indexedAs(found);
      run.attempt = item.attempt;
      run.messageKey = queued.messageKey;
      const request = SendMessageRequestCodec.fromJSON(queued.request);
      run.exposed = request.configuration?.returnImmediately === true;
      if (isTerminal(run.state)) {
        // Finished (or canceled) before this replica got to it.
        if (stored.lastSeq !== found.lastSeq) await run.saveSnapshot(run.task);
        await store.events.close(run.id);
        await store.queue.ack(run.id);
        run.releaseOwnerSlot();
        return;
      }
      run.pushConfigs = await store.pushConfigs.list(run.id);
      if (item.attempt > options.maxAttempts) {
        run.log.error({ attempt: item.attempt }, 'task given up: replicas died running it too often');
        await run.setStatus(
          TaskState.TASK_STATE_FAILED,
          `Gave up after ${item.attempt - 1} attempts: the replicas running this task stopped before it finished`,
        );
        await store.queue.ack(run.id);
        return;
      }
      if (item.attempt > 1) {
        run.log.info({ attempt: item.attempt }, 'taking over a task whose replica stopped');
        await run.saveSnapshot({
          ...run.task,
          metadata: { ...run.task.metadata, [ATTEMPT_KEY]: item.attempt },
        });
      }
      const requestContext = await this.executor.requestContext(run, request, callerContext(queued));
      this.core.runs.set(run.id, run);
      await this.executor.execute(run, requestContext, slot);
    } catch (error) {
      // Store trouble: the lease lapses and the task is taken again later.
      this.core.logger.error({ err: error, task_id: item.taskId }, 'could not start a queued task');
    } finally {
      slot.release();
    }
  }

  /**
   * The outcome of a task another replica runs, for a blocking SendMessage: its events
   * folded onto the snapshot until it rests (terminal, interrupted, or a direct reply).
   */
  async awaitElsewhere(
    run: TaskRun,
    follower: AsyncIterable<TaskEventRecord>,
    controller: AbortController,
  ): Promise<RunOutcome> {
    let task = run.task;
    try {
      for await (const record of follower) {
        const p = record.event.payload;
        if (p?.$case === 'message' && record.seq === 1) return { kind: 'message', message: p.value };
        task = applyStreamEvent(task, record.event);
        const state = task.status?.state;
        if (isTerminal(state) || isInterrupted(state)) return { kind: 'task', task };
      }
    } finally {
      controller.abort();
    }
    // The log ended without a final state (deleted): the store has the last word.
    return { kind: 'task', task: (await this.core.store.tasks.get(run.id))?.task ?? task };
  }

  /**
   * Cancels a task another replica executes: publishes the request, then follows the
   * task's events until a terminal state (bounded by the cancel grace plus a margin).
   * Returns the final task, or undefined when the owner did not answer in time.
   */
  async cancelElsewhere(stored: StoredTask): Promise<Task | undefined> {
    const id = stored.task.id;
    const { store, options } = this.core;
    const controller = new AbortController();
    const follower = store.events.follow(id, stored.lastSeq, controller.signal);
    const timer = setTimeout(() => controller.abort(), options.cancelGraceMs + 3000);
    try {
      await store.queue.requestCancel(id);
      let task = stored.task;
      for await (const record of follower) {
        task = applyStreamEvent(task, record.event);
        if (isTerminal(task.status?.state)) return task;
      }
      return undefined;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /**
   * What a drain that ran out of time leaves: with a durable queue the unfinished runs go
   * back to the queue for another replica (waiting tasks stay there); with the embedded
   * store they, and the tasks still waiting, are marked FAILED with the reason, since
   * nothing else could run them. Returns how many tasks were left unfinished.
   */
  async abandon(left: readonly TaskRun[]): Promise<number> {
    const { store, agents, logger } = this.core;
    if (store.queue.durable) {
      await Promise.all(
        left.map(async (run) => {
          run.detach();
          await store.queue
            .requeue(run.id, true)
            .catch((error: unknown) =>
              run.log.warn({ err: error }, 'could not hand the task back; its lease will lapse'),
            );
        }),
      );
      if (left.length > 0) logger.info({ tasks: left.length }, 'handed unfinished tasks back to the queue');
      return left.length;
    }
    const waiting = await store.queue.take([...agents.keys()], Number.MAX_SAFE_INTEGER);
    await Promise.all([
      ...left.map(async (run) => {
        run.abort();
        await run.setStatus(TaskState.TASK_STATE_FAILED, 'The server shut down before this task finished');
      }),
      ...waiting.map((item) => this.failUnstarted(item, 'The server shut down before this task started')),
    ]);
    return left.length + waiting.length;
  }

  /**
   * A task whose replica died before its first commit stored it (a deferred create): it
   * is stored now from what its lease carries. Undefined when the lease carries none.
   */
  private async storeDeferred(queued: QueuedRequest): Promise<StoredTask | undefined> {
    if (!queued.task) return undefined;
    const task = TaskCodec.fromJSON(queued.task);
    const record = {
      task,
      agent: queued.agent,
      tenant: queued.tenant,
      owner: queued.owner ?? '',
      lastSeq: 0,
      updatedAt: Date.now(),
    };
    try {
      return await this.core.store.tasks.create(record);
    } catch (error) {
      // Stored meanwhile after all (the dead replica's commit landed late).
      if (isAgentdError(error, 'TASK_CONFLICT')) return this.core.store.tasks.get(task.id);
      throw error;
    }
  }

  /** Marks a task that never started FAILED (embedded store shutting down). */
  private async failUnstarted(item: WorkItem, reason: string): Promise<void> {
    const stored = await this.core.store.tasks.get(item.taskId);
    const agent = stored && this.core.agents.get(stored.agent);
    if (!stored || !agent || isTerminal(stored.task.status?.state)) return;
    const run = new TaskRun(this.core.runDeps, agent, stored);
    run.pushConfigs = await this.core.store.pushConfigs.list(run.id);
    await run.setStatus(TaskState.TASK_STATE_FAILED, reason);
    await this.core.store.queue.ack(run.id);
  }
}

/**
 * The call context a task run here gets: the caller who sent its message, as a transport on
 * the replica that accepted it put it there (agentd's principal, and the SDK `User`).
 */
function callerContext(queued: QueuedRequest): ServerCallContext {
  const principal = principalFromRecord(queued.caller, queued.owner);
  return new ServerCallContext({
    requestedExtensions: queued.extensions,
    user: userOf(principal),
    state: new Map<string, unknown>(principal.scheme === 'none' ? [] : [[PRINCIPAL_STATE_KEY, principal]]),
  });
}
