/**
 * The task side of an `llm` run: the conversation read from the task's history, and what
 * the run publishes back (status updates with progress and token usage, and the answer as
 * chunks of one artifact).
 */
import { Role, TaskState, type Message } from '@a2a-js/sdk';
import type { ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import type { FinishReason, LanguageModelUsage, ModelMessage } from 'ai';
import { isoNow } from '../engine/clock.js';
import type { McpTool } from '../mcp/mcp-server-connection.js';
import { textMessage, textOf, textPart } from './parts.js';

/** Where token usage goes in the task metadata (merged by the engine's reducer). */
export const USAGE_METADATA_KEY = 'agentd.usage';

/**
 * Marks the agent's progress messages ("Calling tool ...") in the task history, so a
 * follow-up turn gives the model the conversation without them.
 */
const PROGRESS_METADATA_KEY = 'agentd.llm';

const ARTIFACT_ID = 'response';
/** Shortest time between two artifact chunks; faster deltas are coalesced. */
const CHUNK_INTERVAL_MS = 50;

/** What one run spent, as recorded in the task metadata under `agentd.usage`. */
export interface UsageRecord {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  steps: number;
  finishReason?: FinishReason;
}

/**
 * Publishes a status update with an agent message `text`; `progress` marks the message as
 * progress (left out of later turns' conversation), `usage` goes into the task metadata.
 */
export type PublishStatus = (
  state: TaskState,
  text: string,
  extra?: { progress?: Record<string, unknown>; usage?: UsageRecord },
) => void;

/** The status publisher of the task `ctx` runs. */
export function statusPublisher(ctx: RequestContext, bus: ExecutionEventBus): PublishStatus {
  const ids = { taskId: ctx.taskId, contextId: ctx.contextId };
  return (state, text, extra = {}) => {
    const message = {
      ...textMessage(Role.ROLE_AGENT, text, ids),
      metadata: extra.progress ? { [PROGRESS_METADATA_KEY]: extra.progress } : undefined,
    };
    bus.publish({
      kind: 'statusUpdate',
      data: {
        ...ids,
        status: { state, message, timestamp: isoNow() },
        metadata: extra.usage ? { [USAGE_METADATA_KEY]: { ...extra.usage } } : undefined,
      },
    });
  };
}

/**
 * The answer of `model` as chunks of the `response` artifact of the task `ctx` runs,
 * coalesced to at most one every 50 ms; nothing is published once `signal` is aborted.
 */
export function answerChunks(
  ctx: RequestContext,
  bus: ExecutionEventBus,
  model: string,
  signal: AbortSignal,
): ChunkBatcher {
  return new ChunkBatcher(CHUNK_INTERVAL_MS, (text, append, lastChunk) => {
    // A timer may fire between the cancel and the end of the stream: the task is over.
    if (signal.aborted) return;
    bus.publish({
      kind: 'artifactUpdate',
      data: {
        taskId: ctx.taskId,
        contextId: ctx.contextId,
        artifact: {
          artifactId: ARTIFACT_ID,
          name: ARTIFACT_ID,
          description: `Answer of ${model}`,
          parts: [textPart(text)],
          metadata: undefined,
          extensions: [],
        },
        append,
        lastChunk,
        metadata: undefined,
      },
    });
  });
}

/**
 * Coalesces text deltas into artifact chunks, at most one per `intervalMs`. The newest
 * delta is held back until more text comes or the answer ends, so the last chunk
 * (`lastChunk: true`) always carries text.
 */
export class ChunkBatcher {
  private pending = '';
  private held = '';
  private sent = 0;
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly publish: (text: string, append: boolean, lastChunk: boolean) => void,
  ) {}

  push(delta: string): void {
    this.pending += this.held;
    this.held = delta;
    if (!this.pending || this.timer) return;
    const wait = Math.max(0, this.lastSentAt + this.intervalMs - performance.now());
    this.timer = setTimeout(() => this.send(this.take(false), false), wait);
  }

  /** Sends everything now (before a tool call's status, so the order reads right). */
  flush(): void {
    this.send(this.take(true), false);
  }

  /** Sends the rest as the last chunk. */
  end(): void {
    this.send(this.take(true), true);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private take(withHeld: boolean): string {
    this.dispose();
    const text = this.pending + (withHeld ? this.held : '');
    this.pending = '';
    if (withHeld) this.held = '';
    return text;
  }

  private send(text: string, lastChunk: boolean): void {
    if (!text) return;
    this.publish(text, this.sent > 0, lastChunk);
    this.sent++;
    this.lastSentAt = performance.now();
  }
}

/**
 * The conversation for the model: the task's earlier user and agent messages (without
 * the agent's progress updates), then the new message; text parts only.
 */
export function conversation(ctx: RequestContext): ModelMessage[] {
  const current = ctx.userMessage;
  const earlier = (ctx.task?.history ?? []).filter(
    (m) => m.messageId !== current.messageId && !isProgress(m),
  );
  const messages: ModelMessage[] = [];
  for (const m of [...earlier, current]) {
    const text = textOf(m);
    if (!text) continue;
    messages.push(
      m.role === Role.ROLE_AGENT ? { role: 'assistant', content: text } : { role: 'user', content: text },
    );
  }
  return messages;
}

function isProgress(message: Message): boolean {
  return message.metadata?.[PROGRESS_METADATA_KEY] !== undefined;
}

/** `get-sum on everything`, or the name the model used when it is no offered tool. */
export function describeTool(tool: McpTool | undefined, modelName: string): string {
  return tool ? `${tool.name} on ${tool.server}` : modelName;
}

/** A tool's fields in a progress message's metadata. */
export function toolFields(tool: McpTool | undefined, modelName: string): Record<string, string> {
  return tool ? { tool: tool.name, server: tool.server } : { tool: modelName };
}

/** Adds one step's token counts to the run's; a count neither reports stays absent. */
export function addUsage(total: UsageRecord, step: LanguageModelUsage): void {
  const add = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined ? b : b === undefined ? a : a + b;
  const input = add(total.inputTokens, step.inputTokens);
  const output = add(total.outputTokens, step.outputTokens);
  const sum = add(total.totalTokens, step.totalTokens);
  if (input !== undefined) total.inputTokens = input;
  if (output !== undefined) total.outputTokens = output;
  if (sum !== undefined) total.totalTokens = sum;
}
