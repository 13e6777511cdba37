/**
 * What the message ledger records for an accepted message: the task it produced (with when
 * it was accepted), or the direct reply it got instead of a task.
 */
import { Message } from '@a2a-js/sdk';

export type MessageRecord =
  | { readonly kind: 'task'; readonly taskId: string; readonly acceptedAt: number }
  | { readonly kind: 'reply'; readonly message: Message };

const REPLY = 'reply:';

export function taskRecord(taskId: string, acceptedAt = Date.now()): string {
  return `task:${acceptedAt}:${taskId}`;
}

export function replyRecord(message: Message): string {
  return REPLY + JSON.stringify(Message.toJSON(message));
}

/** The record, or undefined for a value this version did not write. */
export function parseMessageRecord(value: string): MessageRecord | undefined {
  if (value.startsWith(REPLY))
    return { kind: 'reply', message: Message.fromJSON(JSON.parse(value.slice(REPLY.length))) };
  const m = /^task:(\d+):(.+)$/s.exec(value);
  return m ? { kind: 'task', taskId: m[2] as string, acceptedAt: Number(m[1]) } : undefined;
}
