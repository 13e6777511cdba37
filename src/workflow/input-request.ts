/**
 * Waiting for the user inside a durable agent: `requestContext.awaitInput(prompt)` moves
 * the task to INPUT_REQUIRED and ends this execution by throwing {@link InputRequested};
 * the follow-up message re-runs the agent, whose checkpointed calls return their results
 * and whose `awaitInput` returns the user's answer.
 */
export class InputRequested extends Error {
  override readonly name = 'InputRequested';
  constructor(readonly prompt: string) {
    super(`waiting for input: ${prompt}`);
  }
}

/** Checkpoint: which durable scope is waiting for which input (set when the task asks). */
export const WAITING_KEY = 'input:waiting';

export interface WaitingInput {
  /** The durable scope the calls so far were made in (the message that started them). */
  readonly scope: string;
  /** The input being waited for. */
  readonly key: string;
  /** The message that was current when the task asked (the answer is a later one). */
  readonly messageId: string;
}
