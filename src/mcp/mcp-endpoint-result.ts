/**
 * What an MCP tool call returns for an A2A outcome: a finished task's artifacts as content,
 * a failed one as an error result, one waiting for input as the agent's question with how to
 * answer it, and a catalogue error as an error result with its code. Pure functions.
 */
import { TaskState, type Message, type Part, type StreamResponse, type Task } from '@a2a-js/sdk';
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/server';
import { textOf } from '../agents/parts.js';
import type { AgentdError } from '../errors.js';
import { isInterrupted, isTerminal, stateLabel } from '../engine/task-state.js';

/** `_meta` keys on every result, so callers can find the task (GetTask, a follow-up call). */
export const META_TASK_ID = 'agentd/taskId';
export const META_CONTEXT_ID = 'agentd/contextId';
export const META_STATE = 'agentd/state';
export const META_ERROR_CODE = 'agentd/errorCode';

/** How the caller can answer a task that waits for input. */
export interface AnswerHint {
  readonly toolName: string;
  /** The tool takes `taskId`/`contextId` (text tools do; declared MCP tools do not). */
  readonly canContinue: boolean;
}

const PROGRESS_TEXT_LIMIT = 200;

/** The result for a task at rest (terminal or interrupted). */
export function taskResult(task: Task, hint: AnswerHint): CallToolResult {
  const state = task.status?.state;
  const said = textOf(task.status?.message);
  const meta = {
    [META_TASK_ID]: task.id,
    [META_CONTEXT_ID]: task.contextId,
    [META_STATE]: state === undefined ? 'TASK_STATE_UNSPECIFIED' : TaskState[state],
  };
  if (state === TaskState.TASK_STATE_COMPLETED) {
    const parts = task.artifacts.flatMap((a) => a.parts);
    const content = task.artifacts.flatMap((a) =>
      partsContent(a.parts, `agentd://task/${task.id}/artifact/${encodeURIComponent(a.artifactId)}`),
    );
    const structured = structuredContentOf(parts);
    return {
      content: content.length > 0 ? content : [text(said || 'The agent completed the task without output.')],
      ...(structured ? { structuredContent: structured } : {}),
      _meta: meta,
    };
  }
  if (isInterrupted(state)) {
    const auth = state === TaskState.TASK_STATE_AUTH_REQUIRED;
    const question =
      said || (auth ? 'The agent needs authorization to continue.' : 'The agent needs more input.');
    const how = hint.canContinue
      ? `To answer, call ${hint.toolName} again with {"text": "<your answer>", "taskId": "${task.id}", "contextId": "${task.contextId}"}.`
      : `This tool cannot answer it; reply to task ${task.id} (context ${task.contextId}) with an A2A client.`;
    return {
      content: [
        text(
          `${question}\n\n[Task ${task.id} is waiting for ${auth ? 'authorization' : 'your input'}. ${how}]`,
        ),
      ],
      structuredContent: { taskId: task.id, contextId: task.contextId, state: meta[META_STATE] },
      _meta: meta,
    };
  }
  // FAILED, REJECTED, CANCELED; or a stream that ended early (the task is then still running).
  const label = stateLabel(state);
  return {
    content: [text(said || (isTerminal(state) ? `The task ended ${label}.` : `The task is ${label}.`))],
    isError: true,
    _meta: meta,
  };
}

/** The result for an agent that answered with a message instead of a task. */
export function messageResult(message: Message): CallToolResult {
  const content = partsContent(
    message.parts,
    `agentd://message/${encodeURIComponent(message.messageId || 'reply')}`,
  );
  const structured = structuredContentOf(message.parts);
  return {
    content: content.length > 0 ? content : [text('The agent answered without content.')],
    ...(structured ? { structuredContent: structured } : {}),
    _meta: { [META_CONTEXT_ID]: message.contextId },
  };
}

/** A catalogue error (QUEUE_FULL, TASK_NOT_FOUND, ...) as a tool error result naming its code. */
export function errorResult(error: AgentdError): CallToolResult {
  return {
    content: [text(`${error.message} (${error.code}${error.retryable ? ', retryable' : ''})`)],
    isError: true,
    _meta: { [META_ERROR_CODE]: error.code },
  };
}

/**
 * What a streamed event tells a waiting user, for a progress notification: a status
 * update's message, or an artifact chunk's text. Empty when there is nothing to say, and
 * for final states (the result says it).
 */
export function progressMessage(event: StreamResponse): string {
  const p = event.payload;
  if (p?.$case === 'statusUpdate') {
    const state = p.value.status?.state;
    if (isTerminal(state) || isInterrupted(state)) return '';
    return clip(textOf(p.value.status?.message));
  }
  if (p?.$case === 'artifactUpdate' && p.value.artifact) {
    const artifact = p.value.artifact;
    const texts = artifact.parts.flatMap((part) =>
      part.content?.$case === 'text' ? [part.content.value] : [],
    );
    const what = texts.length > 0 ? texts.join('').trim() : `${artifact.parts.length} part(s)`;
    return clip(`${artifact.name || artifact.artifactId}: ${what}`);
  }
  return '';
}

/**
 * MCP content for A2A parts. Consecutive text parts are joined without a separator: a
 * streamed artifact arrives as text chunks that belong together. Data becomes its JSON;
 * raw bytes an image, audio or an embedded resource by media type; a URL a resource link.
 * What a tools agent made of an MCP result (`src/mcp/content.ts`) comes back as it was:
 * its structuredContent part is not repeated as content, a resource keeps its URI.
 */
function partsContent(parts: readonly Part[], uriBase: string): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  let pendingText: string | undefined;
  const flush = (): void => {
    if (pendingText !== undefined) blocks.push(text(pendingText));
    pendingText = undefined;
  };
  parts.forEach((part, i) => {
    const c = part.content;
    if (c?.$case === 'text') {
      pendingText = (pendingText ?? '') + c.value;
      return;
    }
    flush();
    const mimeType = part.mediaType || undefined;
    const mcp = mcpOrigin(part);
    switch (c?.$case) {
      case 'data':
        if (mcp.type !== 'structuredContent') blocks.push(text(JSON.stringify(c.value, null, 2)));
        break;
      case 'raw': {
        const bytes = Buffer.from(c.value);
        const data = bytes.toString('base64');
        if (mimeType?.startsWith('image/')) blocks.push({ type: 'image', data, mimeType });
        else if (mimeType?.startsWith('audio/')) blocks.push({ type: 'audio', data, mimeType });
        else {
          const uri = mcp.uri ?? `${uriBase}/${encodeURIComponent(part.filename || `part-${i}`)}`;
          const body = mimeType?.startsWith('text/') ? { text: bytes.toString('utf8') } : { blob: data };
          blocks.push({ type: 'resource', resource: { uri, ...body, ...(mimeType ? { mimeType } : {}) } });
        }
        break;
      }
      case 'url':
        blocks.push({
          type: 'resource_link',
          uri: c.value,
          name: part.filename || c.value,
          ...(mimeType ? { mimeType } : {}),
        });
        break;
    }
  });
  flush();
  return blocks;
}

/** MCP structuredContent: the value of the only data part, when it is a JSON object. */
function structuredContentOf(parts: readonly Part[]): Record<string, unknown> | undefined {
  const data = parts.filter((p) => p.content?.$case === 'data');
  const c = data.length === 1 ? data[0]?.content : undefined;
  const value: unknown = c?.$case === 'data' ? c.value : undefined;
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Where a part came from when a tools agent made it of MCP content (`metadata.mcp`). */
function mcpOrigin(part: Part): { type?: string; uri?: string } {
  const mcp: unknown = part.metadata?.mcp;
  if (typeof mcp !== 'object' || mcp === null) return {};
  const { type, uri } = mcp as { type?: unknown; uri?: unknown };
  return {
    ...(typeof type === 'string' ? { type } : {}),
    ...(typeof uri === 'string' ? { uri } : {}),
  };
}

function text(value: string): ContentBlock {
  return { type: 'text', text: value };
}

function clip(value: string): string {
  return value.length <= PROGRESS_TEXT_LIMIT ? value : `${value.slice(0, PROGRESS_TEXT_LIMIT - 1)}…`;
}
