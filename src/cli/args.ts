/** Argument parsing shared by the CLI's commands. */
import { taskStateFromJSON, type TaskState } from '@a2a-js/sdk';
import { InvalidArgumentError } from 'commander';

/** A usage error found after parsing (exit code 2). */
export class UsageError extends Error {}

/** An integer option ≥ `min`, named in the error. */
export function intArg(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

/** A task state from `working`, `input-required`, `TASK_STATE_FAILED`, ... */
export function parseState(value: string): TaskState {
  const name = value.toUpperCase().startsWith('TASK_STATE_')
    ? value.toUpperCase()
    : `TASK_STATE_${value.toUpperCase().replace(/-/g, '_')}`;
  const state = taskStateFromJSON(name);
  if (state < 0)
    throw new Error(
      `unknown task state "${value}" (try: submitted, working, input-required, completed, failed, canceled)`,
    );
  return state;
}
