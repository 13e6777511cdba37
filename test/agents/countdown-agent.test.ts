import { TaskState } from '@a2a-js/sdk';
import { pino } from 'pino';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { describe, expect, it } from 'vitest';
import { CountdownAgent } from '../../src/agents/countdown-agent.js';
import { AgentdRequestContext, NO_METRICS } from '../../src/engine/hosted-agent.js';
import {
  RecordingEventBus,
  request,
  requestContext,
  taskFor,
  textOf,
  userMessage,
} from './recording-event-bus.js';

const STEP_MS = 5;

function agent(options: { stepMs?: number; maxCount?: number } = {}): CountdownAgent {
  return new CountdownAgent({ stepMs: options.stepMs ?? STEP_MS, maxCount: options.maxCount ?? 1000 });
}

/** The text each artifact chunk carried, in order. */
function chunks(bus: RecordingEventBus): string[] {
  return bus.artifactUpdates.map((u) =>
    (u.artifact?.parts ?? []).map((p) => (p.content?.$case === 'text' ? p.content.value : '?')).join(''),
  );
}

/** Rejects if `promise` has not settled within `ms` (guards the "stops promptly" claims). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('CountdownAgent', () => {
  it('counts to the number in the message, streaming progress and artifact chunks, then completes', async () => {
    const bus = new RecordingEventBus();
    await agent().execute(
      requestContext(userMessage('count to 3', { taskId: 't-3', contextId: 'c-3' })),
      bus,
    );

    expect(bus.events.map((e) => e.kind)).toEqual([
      'statusUpdate',
      'artifactUpdate',
      'statusUpdate',
      'artifactUpdate',
      'statusUpdate',
      'artifactUpdate',
      'statusUpdate',
    ]);
    expect(bus.statusStates).toEqual([
      TaskState.TASK_STATE_WORKING,
      TaskState.TASK_STATE_WORKING,
      TaskState.TASK_STATE_WORKING,
      TaskState.TASK_STATE_COMPLETED,
    ]);
    expect(bus.statusTexts).toEqual(['Counting to 3', '1/3', '2/3', 'Counted to 3']);
    expect(chunks(bus)).toEqual(['1\n', '2\n', '3\n']);
    expect(bus.artifactUpdates.map((u) => [u.append, u.lastChunk])).toEqual([
      [false, false],
      [true, false],
      [true, true],
    ]);
    for (const e of bus.events) expect(e.data).toMatchObject({ taskId: 't-3', contextId: 'c-3' });
    expect(bus.finishedCount).toBe(1);

    // Folded with the engine's reducer, the chunks make one artifact with the whole count.
    const task = bus.foldInto(
      taskFor(userMessage('count to 3', { taskId: 't-3', contextId: 'c-3' }), TaskState.TASK_STATE_SUBMITTED),
    );
    expect(task.artifacts).toHaveLength(1);
    expect(
      task.artifacts[0]?.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(''),
    ).toBe('1\n2\n3\n');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('counts to 10 when the message has no number, and clamps to maxCount', async () => {
    const plain = new RecordingEventBus();
    await agent({ stepMs: 1 }).execute(requestContext(userMessage('go')), plain);
    expect(plain.artifactUpdates).toHaveLength(10);
    expect(plain.statusStates.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);

    const clamped = new RecordingEventBus();
    await agent({ stepMs: 1, maxCount: 4 }).execute(requestContext(userMessage('count to 5000')), clamped);
    expect(chunks(clamped)).toEqual(['1\n', '2\n', '3\n', '4\n']);
    expect(clamped.statusTexts[0]).toBe('Counting to 4');
  });

  it('asks for input halfway when told to, saving its progress in the task metadata', async () => {
    const bus = new RecordingEventBus();
    await agent().execute(requestContext(userMessage('count to 6 and ask me halfway')), bus);

    expect(chunks(bus)).toEqual(['1\n', '2\n', '3\n']);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(bus.statusStates).not.toContain(TaskState.TASK_STATE_COMPLETED);
    const last = bus.events.at(-1);
    expect(last?.kind).toBe('statusUpdate');
    if (last?.kind !== 'statusUpdate') throw new Error('unreachable');
    expect(last.data.metadata).toEqual({ countdown: { target: 6, next: 4 } });
    expect(textOf(last.data.status?.message)).toContain('Reply to continue');
    expect(bus.finishedCount).toBe(1);
  });

  it('resumes from the task metadata on the follow-up message and completes', async () => {
    const first = userMessage('count to 6, ask');
    const firstBus = new RecordingEventBus();
    await agent().execute(requestContext(first), firstBus);
    // The snapshot the engine would hold: the first turn folded with the reducer.
    const paused = firstBus.foldInto(taskFor(first, TaskState.TASK_STATE_SUBMITTED));
    expect(paused.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(paused.metadata).toEqual({ countdown: { target: 6, next: 4 } });

    const bus = new RecordingEventBus();
    // The follow-up text carries no number or "ask": the saved progress decides.
    await agent().execute(
      requestContext(userMessage('yes please', { taskId: first.taskId, contextId: first.contextId }), paused),
      bus,
    );
    expect(bus.statusTexts[0]).toBe('Continuing from 4');
    expect(chunks(bus)).toEqual(['4\n', '5\n', '6\n']);
    expect(bus.artifactUpdates.every((u) => u.append)).toBe(true);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(bus.statusStates).not.toContain(TaskState.TASK_STATE_INPUT_REQUIRED);

    const done = bus.foldInto(paused);
    expect(
      done.artifacts[0]?.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(''),
    ).toBe('1\n2\n3\n4\n5\n6\n');
  });

  it('does not ask when the count is 1', async () => {
    const bus = new RecordingEventBus();
    await agent().execute(requestContext(userMessage('count to 1 and ask')), bus);
    expect(chunks(bus)).toEqual(['1\n']);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('stops within one step when cancelTask is called mid-count', async () => {
    const countdown = agent();
    const bus = new RecordingEventBus();
    const ctx = requestContext(userMessage('count to 1000', { taskId: 'cancel-me' }));
    const running = countdown.execute(ctx, bus);
    await bus.nthArtifact(3);
    const seenAtCancel = bus.artifactUpdates.length;
    await countdown.cancelTask('cancel-me');
    await within(running, 1000, 'execute() returning after cancelTask');

    expect(bus.artifactUpdates.length - seenAtCancel).toBeLessThanOrEqual(1);
    expect(bus.artifactUpdates.length).toBeLessThan(1000);
    expect(bus.statusStates).not.toContain(TaskState.TASK_STATE_COMPLETED);
    expect(bus.finishedCount).toBe(1);
  });

  it('cancelTask interrupts the step wait itself, not only the next step', async () => {
    const countdown = agent({ stepMs: 60_000 });
    const bus = new RecordingEventBus();
    const running = countdown.execute(requestContext(userMessage('count to 3', { taskId: 'slow' })), bus);
    await bus.waitFor((e) => e.kind === 'statusUpdate');
    await countdown.cancelTask('slow');
    await within(running, 1000, 'execute() returning during a 60 s step');
    expect(bus.artifactUpdates).toHaveLength(0);
    expect(bus.statusTexts).toEqual(['Counting to 3']);
    expect(bus.finishedCount).toBe(1);
  });

  it('cancelTask of another task leaves a running count alone', async () => {
    const countdown = agent();
    const bus = new RecordingEventBus();
    const running = countdown.execute(requestContext(userMessage('count to 4', { taskId: 'mine' })), bus);
    await bus.nthArtifact(1);
    await countdown.cancelTask('someone-else');
    await running;
    expect(chunks(bus)).toEqual(['1\n', '2\n', '3\n', '4\n']);
    expect(bus.statusStates.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("stops within one step when the engine's abort signal fires", async () => {
    const countdown = agent({ stepMs: 60_000 });
    const bus = new RecordingEventBus();
    const controller = new AbortController();
    const message = userMessage('count to 3', { taskId: 'aborted' });
    const ctx = new AgentdRequestContext(
      request(message),
      message.taskId,
      message.contextId,
      new ServerCallContext(),
      undefined,
      undefined,
      'countdown',
      {
        signal: controller.signal,
        log: pino({ level: 'silent' }),
        attempt: 1,
        traceContext: undefined,
        metrics: NO_METRICS,
        step: async (_key, fn) => fn(),
      },
    );
    const running = countdown.execute(ctx, bus);
    await bus.waitFor((e) => e.kind === 'statusUpdate');
    controller.abort();
    await within(running, 1000, 'execute() returning after the abort signal');
    expect(bus.artifactUpdates).toHaveLength(0);
    expect(bus.statusStates).toEqual([TaskState.TASK_STATE_WORKING]);
    expect(bus.finishedCount).toBe(1);
  });
});
