/**
 * The SDK reference servers' `echo` executor, mirroring agentd's built-in
 * `echo` agent: task (SUBMITTED) -> WORKING -> one artifact echoing the input
 * text -> COMPLETED.
 */
import { randomUUID } from 'node:crypto';
import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { artifactChunk, inputText, statusUpdate, submittedTask } from './parts.js';

/** Echoes the input text back as the task's single artifact. */
export const echoExecutor: AgentExecutor = {
  async execute(ctx: RequestContext, eventBus: ExecutionEventBus): Promise<void> {
    eventBus.publish(submittedTask(ctx));
    eventBus.publish(statusUpdate(ctx, TaskState.TASK_STATE_WORKING));
    eventBus.publish(
      artifactChunk(ctx, { artifactId: randomUUID(), name: 'echo' }, inputText(ctx.userMessage), {
        append: false,
        lastChunk: true,
      }),
    );
    eventBus.publish(statusUpdate(ctx, TaskState.TASK_STATE_COMPLETED));
    eventBus.finished();
  },
  async cancelTask(): Promise<void> {
    // Echo tasks complete synchronously; there is nothing to cancel.
  },
};
