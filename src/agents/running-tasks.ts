import type { RequestContext } from '@a2a-js/sdk/server';
import { AgentdRequestContext } from '../engine/hosted-agent.js';

/** One execution's abort signal, and the call that ends its tracking. */
export interface RunningTask {
  readonly signal: AbortSignal;
  /** Stops tracking the task (call in `finally`). */
  end(): void;
}

/**
 * The abort signals of an executor's running tasks. Each fires on the executor's
 * `cancelTask(taskId)` (the SDK's contract) and, under agentd, with the engine's own
 * signal (cancel from any replica, shutdown), already aborted or not.
 */
export class RunningTasks {
  private readonly controllers = new Map<string, AbortController>();

  begin(ctx: RequestContext): RunningTask {
    const controller = new AbortController();
    const external = ctx instanceof AgentdRequestContext ? ctx.signal : undefined;
    const onAbort = (): void => controller.abort();
    if (external?.aborted) controller.abort();
    else external?.addEventListener('abort', onAbort, { once: true });
    this.controllers.set(ctx.taskId, controller);
    return {
      signal: controller.signal,
      end: () => {
        external?.removeEventListener('abort', onAbort);
        this.controllers.delete(ctx.taskId);
      },
    };
  }

  cancel(taskId: string): void {
    this.controllers.get(taskId)?.abort();
  }
}
