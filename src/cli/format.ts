import type { Artifact, Message, StreamResponse, Task } from '@a2a-js/sdk';
import { stateLabel } from '../engine/task-state.js';

/**
 * Parts as text: consecutive text parts run together (streamed chunks); other kinds go on
 * their own line. Lines are not indented here; `block` indents them under their heading.
 */
function partsText(parts: Message['parts']): string {
  let out = '';
  let previous: string | undefined;
  for (const p of parts) {
    const c = p.content;
    if (!c) continue;
    const kind = c.$case;
    if (previous !== undefined && (kind !== 'text' || previous !== 'text') && !out.endsWith('\n'))
      out += '\n';
    previous = kind;
    if (c.$case === 'text') out += c.value;
    else if (c.$case === 'data') out += JSON.stringify(c.value);
    else if (c.$case === 'url') out += `<${c.value}>`;
    else out += `<${p.mediaType || 'binary'} ${c.value.length} bytes${p.filename ? ` ${p.filename}` : ''}>`;
  }
  return out.trimEnd();
}

/**
 * `heading: text` on one line when the text is one line; otherwise the heading alone and
 * every line of the text below it, indented two more spaces, so multi-line output stays
 * readable as part of its task.
 */
function block(indent: string, heading: string, text: string, separator = ': '): string {
  const lines = text.split('\n');
  if (lines.length <= 1) return `${indent}${heading}${text ? `${separator}${text}` : ''}`;
  return [`${indent}${heading}${separator.trimEnd()}`, ...lines.map((l) => `${indent}  ${l}`)].join('\n');
}

/** A task as a few human-readable lines. */
export function formatTask(task: Task): string {
  const lines = [`task ${task.id} (context ${task.contextId}): ${stateLabel(task.status?.state)}`];
  if (task.status?.message) {
    const text = partsText(task.status.message.parts);
    lines.push(
      text
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  for (const a of task.artifacts)
    lines.push(block('  ', `artifact ${a.name || a.artifactId}`, partsText(a.parts)));
  return lines.join('\n');
}

/** A direct message reply. */
export function formatMessage(message: Message): string {
  return block('', 'message from agent', partsText(message.parts));
}

/** One stream event, as a line (and the further lines of a multi-line payload, indented). */
export function formatEvent(event: StreamResponse): string {
  const p = event.payload;
  if (!p) return '(empty event)';
  switch (p.$case) {
    case 'task':
      return `[task] ${p.value.id} ${stateLabel(p.value.status?.state)}`;
    case 'message':
      return block('', '[message]', partsText(p.value.parts), ' ');
    case 'statusUpdate': {
      const text = p.value.status?.message ? partsText(p.value.status.message.parts) : '';
      return block('', `[${stateLabel(p.value.status?.state)}]`, text, ' ');
    }
    case 'artifactUpdate': {
      const a: Artifact | undefined = p.value.artifact;
      const heading = `[artifact ${a?.name || a?.artifactId}${p.value.append ? ' +' : ''}]`;
      return block('', heading, partsText(a?.parts ?? []), ' ');
    }
  }
}
