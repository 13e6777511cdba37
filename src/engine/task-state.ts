/** Task-state predicates shared by the engine, stores and transports. */
import { TaskState } from '@a2a-js/sdk';

const TERMINAL: ReadonlySet<TaskState> = new Set([
  TaskState.TASK_STATE_COMPLETED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED,
]);

const INTERRUPTED: ReadonlySet<TaskState> = new Set([
  TaskState.TASK_STATE_INPUT_REQUIRED,
  TaskState.TASK_STATE_AUTH_REQUIRED,
]);

/** COMPLETED, FAILED, CANCELED or REJECTED: the task accepts nothing more. */
export function isTerminal(state: TaskState | undefined): boolean {
  return state !== undefined && TERMINAL.has(state);
}

/** INPUT_REQUIRED or AUTH_REQUIRED: the task waits for the client. */
export function isInterrupted(state: TaskState | undefined): boolean {
  return state !== undefined && INTERRUPTED.has(state);
}

/** `TASK_STATE_WORKING` → `working`, for logs and human output. */
export function stateLabel(state: TaskState | undefined): string {
  if (state === undefined) return 'unknown';
  const name = TaskState[state] ?? 'UNRECOGNIZED';
  return name
    .replace(/^TASK_STATE_/, '')
    .toLowerCase()
    .replace(/_/g, '-');
}
