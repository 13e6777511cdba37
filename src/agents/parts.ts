import type { Message, Part } from '@a2a-js/sdk';

/** A text part, with the `text/plain` media type. */
export function textPart(text: string): Part {
  return {
    content: { $case: 'text', value: text },
    metadata: undefined,
    filename: '',
    mediaType: 'text/plain',
  };
}

/** The text parts of a message joined with newlines (`''` when it has none). */
export function textOf(message: Message | undefined): string {
  if (!message) return '';
  const texts: string[] = [];
  for (const p of message.parts) if (p.content?.$case === 'text') texts.push(p.content.value);
  return texts.join('\n');
}
