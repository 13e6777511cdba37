import { Role, TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { isoNow } from '../engine/clock.js';
import { textMessage, textOf, textPart } from './parts.js';
import { RunningTasks } from './running-tasks.js';

export interface CountdownOptions {
  /** Delay between steps. */
  readonly stepMs: number;
  /** Largest number the agent agrees to count to. */
  readonly maxCount: number;
}

/** Progress kept in task metadata, so a follow-up message continues where it stopped. */
interface Progress {
  readonly target: number;
  readonly next: number;
}

const DEFAULT_TARGET = 10;
const ASK_PATTERN = /\b(ask|input|confirm|pause)\b/i;

/**
 * `countdown`: the streaming demo. It counts to the number in the message (default 10),
 * one step every `stepMs`, streaming a WORKING status and an artifact chunk per step.
 * When the message says "ask" (or "input", "confirm", "pause") it stops halfway in
 * INPUT_REQUIRED and continues on the follow-up message in the same task. Cancellation
 * stops it within one step: it waits on the engine's abort signal, not a timer.
 */
export class CountdownAgent implements AgentExecutor {
  private readonly running = new RunningTasks();

  constructor(private readonly options: CountdownOptions) {}

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const run = this.running.begin(ctx);
    try {
      await this.count(ctx, bus, run.signal);
    } finally {
      run.end();
      bus.finished();
    }
  }

  async cancelTask(taskId: string): Promise<void> {
    this.running.cancel(taskId);
  }

  private async count(ctx: RequestContext, bus: ExecutionEventBus, signal: AbortSignal): Promise<void> {
    const saved = ctx.task?.metadata?.countdown as Progress | undefined;
    const text = textOf(ctx.userMessage);
    const target = saved?.target ?? this.parseTarget(text);
    const askAt = !saved && ASK_PATTERN.test(text) && target > 1 ? Math.ceil(target / 2) : undefined;
    const base = { taskId: ctx.taskId, contextId: ctx.contextId };
    const say = (state: TaskState, words: string, progress?: Progress): void =>
      bus.publish({
        kind: 'statusUpdate',
        data: {
          ...base,
          status: { state, message: textMessage(Role.ROLE_AGENT, words, ctx), timestamp: isoNow() },
          metadata: progress ? { countdown: progress } : undefined,
        },
      });

    say(TaskState.TASK_STATE_WORKING, saved ? `Continuing from ${saved.next}` : `Counting to ${target}`);
    for (let i = saved?.next ?? 1; i <= target; i++) {
      if (!(await sleep(this.options.stepMs, signal))) return;
      bus.publish({
        kind: 'artifactUpdate',
        data: {
          ...base,
          artifact: {
            artifactId: 'count',
            name: 'count',
            description: `Counting to ${target}`,
            parts: [textPart(`${i}\n`)],
            metadata: undefined,
            extensions: [],
          },
          append: i > 1,
          lastChunk: i === target,
          metadata: undefined,
        },
      });
      if (i === askAt && i < target) {
        say(TaskState.TASK_STATE_INPUT_REQUIRED, `Counted to ${i} of ${target}. Reply to continue.`, {
          target,
          next: i + 1,
        });
        return;
      }
      if (i < target) say(TaskState.TASK_STATE_WORKING, `${i}/${target}`, { target, next: i + 1 });
    }
    say(TaskState.TASK_STATE_COMPLETED, `Counted to ${target}`, { target, next: target + 1 });
  }

  private parseTarget(text: string): number {
    const match = /\d+/.exec(text);
    if (!match) return DEFAULT_TARGET;
    return Math.min(Math.max(Number(match[0]), 1), this.options.maxCount);
  }
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
