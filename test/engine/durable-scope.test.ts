/**
 * The durable scope of an agent's calls across a question to the user: the answer continues
 * the scope the question was asked in, also when the run answering it is re-run after a
 * takeover (the calls made before the question still answer from their checkpoints).
 */
import { Role, TaskState, type Message } from '@a2a-js/sdk';
import { ServerCallContext } from '@a2a-js/sdk/server';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AgentdRequestContext, NO_METRICS, type RunHandle } from '../../src/engine/hosted-agent.js';
import { InputRequested } from '../../src/workflow/input-request.js';

function message(id: string, text: string): Message {
  return {
    messageId: id,
    contextId: 'c',
    taskId: 't',
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

describe('durable scope across awaitInput', () => {
  const checkpoints = new Map<string, string>();
  const states: TaskState[] = [];
  const handle: RunHandle = {
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    metrics: NO_METRICS,
    attempt: 1,
    traceContext: undefined,
    step: async (_k, fn) => fn(),
    getCheckpoint: async (k) => checkpoints.get(k),
    putCheckpoint: async (k, v) => void checkpoints.set(k, v),
    setStatus: async (s) => void states.push(s),
  };
  const contextFor = (m: Message): AgentdRequestContext =>
    new AgentdRequestContext(
      { tenant: '', message: m, configuration: undefined, metadata: undefined },
      't',
      'c',
      new ServerCallContext(),
      undefined,
      undefined,
      'agent',
      handle,
    );

  it('keeps the scope of the question for the answer, and again when the answer is re-run', async () => {
    const first = contextFor(message('m1', 'start'));
    expect((await first.durableScope()).scope).toBe('m1');
    await expect(first.awaitInput('Which?')).rejects.toBeInstanceOf(InputRequested);
    expect(states).toEqual([TaskState.TASK_STATE_INPUT_REQUIRED]);

    const answer = contextFor(message('m2', 'blue'));
    expect((await answer.durableScope()).scope).toBe('m1');
    expect(await answer.awaitInput('Which?')).toBe('blue');

    // The replica running the answer died; another runs the same message again.
    const rerun = contextFor(message('m2', 'blue'));
    expect((await rerun.durableScope()).scope).toBe('m1');
    expect(await rerun.awaitInput('Which?')).toBe('blue');
    expect(states).toHaveLength(1);
  });
});
