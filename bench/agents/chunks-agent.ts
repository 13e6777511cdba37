/**
 * The `chunks` agent of the transports benchmark, written once as a plain
 * `@a2a-js/sdk` AgentExecutor: agentd hosts it as a `kind: module` agent
 * (export `chunksExecutor`) and the SDK reference servers host the very same
 * object.
 *
 * On a message `chunks N` (`chunks` alone means {@link DEFAULT_CHUNKS}) it
 * publishes, synchronously and as fast as it can: the task (SUBMITTED),
 * WORKING, N artifact-update chunks of one artifact (`append` on every chunk
 * after the first, `lastChunk` on the last), then COMPLETED. Any other text
 * fails the task.
 */
import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { artifactChunk, inputText, statusUpdate, submittedTask } from './parts.js';

/** Chunks emitted for a bare `chunks` message. */
export const DEFAULT_CHUNKS = 1000;
/** Largest N accepted. */
export const MAX_CHUNKS = 100_000;
/** The artifact every chunk belongs to. */
export const CHUNKS_ARTIFACT = { artifactId: 'chunks', name: 'chunks' } as const;

/** The text of chunk `i` (0-based). */
export function chunkText(i: number): string {
  return `chunk ${i}\n`;
}

/** The number of chunks a message asks for, or undefined when it is not `chunks [N]` with 1 <= N <= MAX_CHUNKS. */
export function requestedChunks(text: string): number | undefined {
  const m = /^\s*chunks(?:\s+(\d+))?\s*$/.exec(text);
  if (!m) return undefined;
  const n = m[1] === undefined ? DEFAULT_CHUNKS : Number(m[1]);
  return n >= 1 && n <= MAX_CHUNKS ? n : undefined;
}

/** Streams N artifact chunks between WORKING and COMPLETED (see the module comment). */
export const chunksExecutor: AgentExecutor = {
  async execute(ctx: RequestContext, eventBus: ExecutionEventBus): Promise<void> {
    eventBus.publish(submittedTask(ctx));
    const n = requestedChunks(inputText(ctx.userMessage));
    if (n === undefined) {
      eventBus.publish(
        statusUpdate(ctx, TaskState.TASK_STATE_FAILED, `expected "chunks N" with 1 <= N <= ${MAX_CHUNKS}`),
      );
      eventBus.finished();
      return;
    }
    eventBus.publish(statusUpdate(ctx, TaskState.TASK_STATE_WORKING));
    for (let i = 0; i < n; i++) {
      eventBus.publish(
        artifactChunk(ctx, CHUNKS_ARTIFACT, chunkText(i), { append: i > 0, lastChunk: i === n - 1 }),
      );
    }
    eventBus.publish(statusUpdate(ctx, TaskState.TASK_STATE_COMPLETED));
    eventBus.finished();
  },
  async cancelTask(): Promise<void> {
    // The chunks are published synchronously; there is nothing left to cancel.
  },
};
