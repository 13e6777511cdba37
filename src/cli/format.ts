import type { Artifact, Message, StreamResponse, Task } from '@a2a-js/sdk';
import { stateLabel } from '../engine/task-state.js';

/** Parts as text: consecutive text parts run together (streamed chunks); other kinds go on their own line. */
function partsText(parts: Message['parts']): string {
  let out = '';
  let previous: string | undefined;
  for (const p of parts) {
    const c = p.content;
    if (!c) continue;
    const kind = c.$case;
    if (previous !== undefined && (kind !== 'text' || previous !== 'text')) out += '\n    ';
    previous = kind;
    if (c.$case === 'text') out += c.value;
    else if (c.$case === 'data') out += JSON.stringify(c.value);
    else if (c.$case === 'url') out += `<${c.value}>`;
    else out += `<${p.mediaType || 'binary'} ${c.value.length} bytes${p.filename ? ` ${p.filename}` : ''}>`;
  }
  return out;
}

function artifactText(a: Artifact): string {
  return `artifact ${a.name || a.artifactId}: ${partsText(a.parts).trimEnd()}`;
}

/** A task as a few human-readable lines. */
export function formatTask(task: Task): string {
  const lines = [`task ${task.id} (context ${task.contextId}): ${stateLabel(task.status?.state)}`];
  if (task.status?.message) lines.push(`  ${partsText(task.status.message.parts)}`);
  for (const a of task.artifacts) lines.push(`  ${artifactText(a)}`);
  return lines.join('\n');
}

/** A direct message reply. */
export function formatMessage(message: Message): string {
  return `message from agent: ${partsText(message.parts)}`;
}

/** One stream event as a line. */
export function formatEvent(event: StreamResponse): string {
  const p = event.payload;
  if (!p) return '(empty event)';
  switch (p.$case) {
    case 'task':
      return `[task] ${p.value.id} ${stateLabel(p.value.status?.state)}`;
    case 'message':
      return `[message] ${partsText(p.value.parts)}`;
    case 'statusUpdate': {
      const text = p.value.status?.message ? ` ${partsText(p.value.status.message.parts)}` : '';
      return `[${stateLabel(p.value.status?.state)}]${text}`;
    }
    case 'artifactUpdate':
      return `[artifact ${p.value.artifact?.name || p.value.artifact?.artifactId}${p.value.append ? ' +' : ''}] ${partsText(p.value.artifact?.parts ?? []).trimEnd()}`;
  }
}
