/** Stream helpers: where a stream of task events ends. */
import type { StreamResponse } from '@a2a-js/sdk';
import { TaskState } from '@a2a-js/sdk';
import type { TaskEventRecord } from '../store/ports.js';
import { isInterrupted, isTerminal } from './task-state.js';

/** Yields followed records until one ends the stream. */
export async function* until(
  follower: AsyncIterable<TaskEventRecord>,
  stopAtInterrupted: boolean,
): AsyncGenerator<TaskEventRecord, void, undefined> {
  for await (const record of follower) {
    yield record;
    if (endsStream(record.event, stopAtInterrupted)) return;
  }
}

export function endsStream(event: StreamResponse, stopAtInterrupted: boolean): boolean {
  const p = event.payload;
  if (!p) return false;
  let state: TaskState | undefined;
  if (p.$case === 'message') return true;
  if (p.$case === 'task') state = p.value.status?.state;
  else if (p.$case === 'statusUpdate') state = p.value.status?.state;
  else return false;
  return isTerminal(state) || (stopAtInterrupted && isInterrupted(state));
}
