import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { isoNow } from '../engine/clock.js';
import { textOf, textPart } from './parts.js';

/**
 * `echo`: SUBMITTED → WORKING → COMPLETED with the input text as one text artifact
 * (non-text parts are echoed as they came). Benchmarks and smoke checks drive it, so it
 * does no I/O and publishes everything synchronously.
 */
export class EchoAgent implements AgentExecutor {
  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const message = ctx.userMessage;
    const text = textOf(message);
    const base = { taskId: ctx.taskId, contextId: ctx.contextId, metadata: undefined };
    bus.publish({ kind: 'statusUpdate', data: { ...base, status: status(TaskState.TASK_STATE_WORKING) } });
    bus.publish({
      kind: 'artifactUpdate',
      data: {
        ...base,
        artifact: {
          artifactId: 'echo',
          name: 'echo',
          description: '',
          parts: text ? [textPart(text)] : message.parts,
          metadata: undefined,
          extensions: [],
        },
        append: false,
        lastChunk: true,
      },
    });
    bus.publish({ kind: 'statusUpdate', data: { ...base, status: status(TaskState.TASK_STATE_COMPLETED) } });
    bus.finished();
  }

  /** Echo finishes synchronously; the engine marks a still-running task CANCELED itself. */
  async cancelTask(): Promise<void> {}
}

function status(state: TaskState): { state: TaskState; message: undefined; timestamp: string } {
  return { state, message: undefined, timestamp: isoNow() };
}
