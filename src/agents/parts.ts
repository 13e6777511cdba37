import type { Message, Part, Role } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';

/** A text part, with the `text/plain` media type. */
export function textPart(text: string): Part {
  return {
    content: { $case: 'text', value: text },
    metadata: undefined,
    filename: '',
    mediaType: 'text/plain',
  };
}

/** A data part (`application/json`). */
export function dataPart(value: unknown): Part {
  return {
    content: { $case: 'data', value },
    metadata: undefined,
    filename: '',
    mediaType: 'application/json',
  };
}

/** The text parts of a message joined with newlines (`''` when it has none). */
export function textOf(message: Message | undefined): string {
  if (!message) return '';
  const texts: string[] = [];
  for (const p of message.parts) if (p.content?.$case === 'text') texts.push(p.content.value);
  return texts.join('\n');
}

/** A message with one text part and a fresh id. */
export function textMessage(role: Role, text: string, ids: { contextId: string; taskId: string }): Message {
  return {
    messageId: randomUUID(),
    contextId: ids.contextId,
    taskId: ids.taskId,
    role,
    parts: [textPart(text)],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}
