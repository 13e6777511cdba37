/**
 * The `ticker` agent of the cross-replica benchmark: on `ticks N every MS after D` it
 * waits D ms (so a subscriber attached meanwhile sees every tick live), then publishes N
 * artifact chunks MS ms apart, each carrying the wall-clock time it was published
 * (`performance.timeOrigin + performance.now()`, ms with µs precision, the same clock in
 * every process on the machine), then COMPLETED.
 */
import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { setTimeout as sleep } from 'node:timers/promises';
import { artifactChunk, inputText, statusUpdate, submittedTask } from './parts.js';

/** The published-at time in a tick's text. */
export function tickTime(text: string): number {
  return Number(text);
}

export const tickerExecutor: AgentExecutor = {
  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    bus.publish(submittedTask(ctx));
    const m = /^ticks (\d+) every (\d+(?:\.\d+)?) after (\d+)$/.exec(inputText(ctx.userMessage).trim());
    if (!m) {
      bus.publish(statusUpdate(ctx, TaskState.TASK_STATE_FAILED, 'expected "ticks N every MS after D"'));
      return;
    }
    const [n, every, after] = [Number(m[1]), Number(m[2]), Number(m[3])];
    bus.publish(statusUpdate(ctx, TaskState.TASK_STATE_WORKING));
    await sleep(after);
    for (let i = 0; i < n; i++) {
      const now = performance.timeOrigin + performance.now();
      bus.publish(
        artifactChunk(ctx, { artifactId: 'ticks', name: 'ticks' }, String(now), {
          append: i > 0,
          lastChunk: i === n - 1,
        }),
      );
      await sleep(every);
    }
    bus.publish(statusUpdate(ctx, TaskState.TASK_STATE_COMPLETED));
  },
  async cancelTask(): Promise<void> {},
};
