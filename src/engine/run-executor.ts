/**
 * Executes a task's run on this replica: builds the agent's request context, calls the
 * executor, and turns how it ended (a throw, a return without a final state, a cancel)
 * into the task's final state. The worker slot the run holds is released when it ends.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Message, SendMessageRequest } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import type { Context } from '@opentelemetry/api';
import { REQUEST_ID_STATE_KEY, TRACE_CONTEXT_STATE_KEY } from './call-context.js';
import type { EngineCore } from './engine-core.js';
import { AgentdRequestContext } from './hosted-agent.js';
import { RunEventBus } from './run-event-bus.js';
import { replyRecord } from './message-record.js';
import type { TaskRun } from './task-run.js';
import type { TaskReader } from './task-reader.js';
import { isInterrupted, isTerminal, stateLabel } from './task-state.js';
import type { WorkerSlot } from './worker-slots.js';
import { TaskRunHandle } from './run-handle.js';
import { InputRequested } from '../workflow/input-request.js';

export class RunExecutor {
  constructor(
    private readonly core: EngineCore,
    private readonly reader: TaskReader,
  ) {}

  /** Starts the run on this replica, in the worker slot already reserved for it. */
  async start(
    run: TaskRun,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    slot: WorkerSlot,
  ): Promise<void> {
    let requestContext: AgentdRequestContext;
    try {
      requestContext = await this.requestContext(run, params, ctx);
    } catch (error) {
      slot.release();
      void this.core.store.queue.ack(run.id).catch(() => {});
      await run.setStatus(TaskState.TASK_STATE_FAILED, describe(error));
      throw error;
    }
    const requestId = ctx.state.get(REQUEST_ID_STATE_KEY);
    if (typeof requestId === 'string') run.requestId = requestId;
    run.traceContext = ctx.state.get(TRACE_CONTEXT_STATE_KEY) as Context | undefined;
    this.core.runs.set(run.id, run);
    void this.execute(run, requestContext, slot);
  }

  /** The SDK request context the agent gets: the task's last message, its task and references. */
  async requestContext(
    run: TaskRun,
    params: SendMessageRequest,
    ctx: ServerCallContext,
  ): Promise<AgentdRequestContext> {
    const message = run.task.history[run.task.history.length - 1] as Message;
    const request: SendMessageRequest = { ...params, message };
    const handle = new TaskRunHandle(run, ctx);
    const referenceTasks =
      message.referenceTaskIds.length > 0
        ? await this.reader.referenceTasks(run.agent, message, run.tenant, run.owner)
        : undefined;
    return new AgentdRequestContext(
      request,
      run.id,
      run.task.contextId,
      ctx,
      message.taskId ? run.task : undefined,
      referenceTasks,
      run.agent.name,
      handle,
    );
  }

  /** Runs the agent, records how it ended, and frees the slot. */
  async execute(run: TaskRun, requestContext: AgentdRequestContext, slot: WorkerSlot): Promise<void> {
    const { store, options } = this.core;
    if (run.isAborted || isTerminal(run.state)) {
      this.core.finishRun(run);
      slot.release();
      return;
    }
    run.executing = true;
    run.slot = slot;
    const started = performance.now();
    options.observer?.workflowStarted(run.agent.name);
    const bus = new RunEventBus(run);
    run.bus = bus;
    let acked = false;
    const ack = (): void => {
      if (acked || run.isDetached) return;
      acked = true;
      void store.queue
        .ack(run.id)
        .catch((error: unknown) =>
          run.log.warn({ err: error }, 'could not end the task lease; it will lapse'),
        );
    };
    // Ending the lease rides with the write of the final state (queued behind it, same round trip).
    run.onFinalWrite = ack;
    let failure: unknown;
    // A synchronous throw is a failure like a rejection; a run the engine gave up on (canceled,
    // and the agent did not return within the grace period) frees its slot without waiting.
    let returned = false;
    const running = Promise.resolve()
      .then(() => run.agent.executor.execute(requestContext, bus))
      .finally(() => (returned = true));
    try {
      await Promise.race([running, run.givenUp]);
    } catch (error) {
      // awaitInput ends the execution this way once the task asks for input: not a failure.
      if (!(error instanceof InputRequested && isInterrupted(run.state))) failure = error;
    }
    if (!returned) {
      running.catch(() => {});
      run.log.warn('the agent did not return after its task was canceled; its worker slot is freed');
    }
    try {
      await run.flush();
      if (run.isDetached) {
        // Handed back to the queue (shutdown) or taken over: another replica finishes it.
      } else if (run.reply) {
        await this.discardProvisionalTask(run);
      } else if (run.isAborted) {
        // Canceled or shutting down: whoever aborted the run records its final state.
      } else if (failure !== undefined && !isTerminal(run.state)) {
        run.log.error({ err: failure }, 'agent failed');
        options.observer?.error('AGENT_FAILED', 'agent');
        await run.setStatus(
          TaskState.TASK_STATE_FAILED,
          `Agent "${run.agent.name}" failed: ${describe(failure)}`,
        );
      } else if (failure !== undefined) {
        run.log.warn({ err: failure }, 'agent threw after the task had finished');
      } else if (!isTerminal(run.state) && !isInterrupted(run.state)) {
        run.log.warn({ state: stateLabel(run.state) }, 'agent returned without reaching a final state');
        await run.setStatus(
          TaskState.TASK_STATE_FAILED,
          `Agent "${run.agent.name}" returned without reporting a final state (last state: ${stateLabel(run.state)})`,
        );
      }
    } catch (error) {
      run.log.error({ err: error }, 'failed to finalise task');
    } finally {
      run.executing = false;
      this.core.finishRun(run);
      run.onFinalWrite = undefined;
      ack();
      options.observer?.workflowEnded(
        run.agent.name,
        this.endStatus(run),
        (performance.now() - started) / 1000,
      );
      slot.release();
    }
  }

  /** Cancels a run executing here: its signal fires, the agent's `cancelTask` gets a grace period. */
  async cancel(run: TaskRun, reason: string): Promise<void> {
    // A canceled parent cancels the children it waits for, wherever they run. They are taken
    // (synchronously) before the abort stops the parent following them.
    const cascade = run.durable?.cancelAll();
    run.abort();
    await cascade;
    if (run.executing && run.bus) {
      try {
        await withTimeout(run.agent.executor.cancelTask(run.id, run.bus), this.core.options.cancelGraceMs);
      } catch (error) {
        this.core.logger.warn(
          { err: error, task_id: run.id, agent_name: run.agent.name },
          'agent cancelTask failed',
        );
      }
      await run.flush();
    }
    if (!isTerminal(run.state)) {
      this.core.logger.debug({ task_id: run.id, reason }, 'task canceled');
      await run.setStatus(TaskState.TASK_STATE_CANCELED);
    }
    // The task is over. An agent whose execute() still has not returned a grace period later
    // no longer holds a worker (its code may go on; what it publishes is ignored).
    if (run.executing) {
      setTimeout(() => {
        if (run.executing) run.giveUp();
      }, this.core.options.cancelGraceMs).unref();
    }
  }

  /**
   * The agent answered with a Message: the provisional task never existed for the client.
   * The reply is recorded for the message instead, so the same message sent again gets it.
   */
  async discardProvisionalTask(run: TaskRun): Promise<void> {
    const { store, options } = this.core;
    const reply = run.reply;
    if (reply && run.messageKey) {
      await store.messages.settle(run.messageKey, replyRecord(reply), options.messageTtlMs);
    }
    await store.tasks.delete(run.id);
    await store.events.delete(run.id);
    run.releaseOwnerSlot();
  }

  /**
   * How a run ended, for metrics: its final state, `handed_off` when another replica took
   * it, and for an aborted run whose final state is still being recorded, the state it is
   * getting (canceled by a client, failed by a shutdown).
   */
  private endStatus(run: TaskRun): string {
    if (run.isDetached) return 'handed_off';
    const state = run.state;
    if (run.isAborted && !isTerminal(state) && !isInterrupted(state))
      return this.core.isAccepting ? 'canceled' : 'failed';
    return stateLabel(state).replace(/-/g, '_');
  }
}

/** A readable one-line reason from anything thrown. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
