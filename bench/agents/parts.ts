/**
 * Event builders shared by the benchmark's SDK executors. They use only the
 * public `@a2a-js/sdk` API, so the executors run unchanged in agentd (as
 * `kind: module` agents) and in the SDK reference servers.
 */
import { randomUUID } from 'node:crypto';
import { Role, TaskState, type Message, type Part } from '@a2a-js/sdk';
import { AgentEvent, type AgentExecutionEvent, type RequestContext } from '@a2a-js/sdk/server';

/** Builds a text part in the SDK's protobuf-style shape. */
export function textPart(text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' };
}

/** Concatenates the text parts of a message. */
export function inputText(message: Message): string {
  return message.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
}

/** The new task, SUBMITTED, with the user's message as its history. */
export function submittedTask(ctx: RequestContext): AgentExecutionEvent {
  return AgentEvent.task({
    id: ctx.taskId,
    contextId: ctx.contextId,
    status: {
      state: TaskState.TASK_STATE_SUBMITTED,
      message: undefined,
      timestamp: new Date().toISOString(),
    },
    artifacts: [],
    history: [ctx.userMessage],
    metadata: undefined,
  });
}

/** A status update moving the task to `state`, optionally with an agent message explaining it. */
export function statusUpdate(ctx: RequestContext, state: TaskState, text?: string): AgentExecutionEvent {
  const message: Message | undefined =
    text === undefined
      ? undefined
      : {
          messageId: randomUUID(),
          contextId: ctx.contextId,
          taskId: ctx.taskId,
          role: Role.ROLE_AGENT,
          parts: [textPart(text)],
          metadata: undefined,
          extensions: [],
          referenceTaskIds: [],
        };
  return AgentEvent.statusUpdate({
    taskId: ctx.taskId,
    contextId: ctx.contextId,
    status: { state, message, timestamp: new Date().toISOString() },
    metadata: undefined,
  });
}

/** An artifact update carrying one text chunk of artifact `artifactId`. */
export function artifactChunk(
  ctx: RequestContext,
  artifact: { artifactId: string; name: string },
  text: string,
  flags: { append: boolean; lastChunk: boolean },
): AgentExecutionEvent {
  return AgentEvent.artifactUpdate({
    taskId: ctx.taskId,
    contextId: ctx.contextId,
    artifact: { ...artifact, description: '', parts: [textPart(text)], metadata: undefined, extensions: [] },
    ...flags,
    metadata: undefined,
  });
}
