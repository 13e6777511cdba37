import { Role, TaskState, type Message } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { createOpenAICompatible, type OpenAICompatibleProvider } from '@ai-sdk/openai-compatible';
import {
  APICallError,
  RetryError,
  dynamicTool,
  jsonSchema,
  stepCountIs,
  streamText,
  type FinishReason,
  type JSONSchema7,
  type LanguageModelUsage,
  type ModelMessage,
  type ToolSet,
} from 'ai';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { isoNow } from '../engine/clock.js';
import { AgentdRequestContext } from '../engine/hosted-agent.js';
import { toolResultText } from '../mcp/content.js';
import type { McpPool } from '../mcp/mcp-pool.js';
import type { McpTool } from '../mcp/mcp-server-connection.js';
import { redactUrl } from '../observability/logger.js';
import { textMessage, textOf, textPart } from './parts.js';
import { RunningTasks } from './running-tasks.js';

export interface LlmAgentOptions {
  /** The agent's name; also the AI SDK provider name. */
  readonly name: string;
  /** The OpenAI-compatible API, e.g. `https://api.openai.com/v1`. */
  readonly baseUrl: string;
  readonly model: string;
  /** Sent as `Authorization: Bearer <key>`; `''` or `none` sends no header (local servers). */
  readonly apiKey: string;
  readonly system: string;
  /** Model calls per message (each tool round is one); the loop stops there. */
  readonly maxSteps: number;
  readonly maxOutputTokens?: number | undefined;
  readonly temperature?: number | undefined;
  /** MCP servers (names in the pool) whose tools the model is offered. */
  readonly servers: readonly string[];
  /** Only these tools (names, or `server/tool`). */
  readonly tools?: readonly string[] | undefined;
  /**
   * Retries of a model call that failed with HTTP 408/409/429/5xx or could not connect,
   * after the provider's `retry-after` or 2 s, 4 s, ...; default 2.
   */
  readonly maxRetries?: number | undefined;
}

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
/** What a tool's failure text and provider messages are cut to. */
const MAX_ERROR_CHARS = 500;
/** OpenAI's rule for function names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** An MCP tool under the name the model sees. */
export interface ModelTool {
  readonly name: string;
  readonly tool: McpTool;
}

/** What one run spent, as recorded in the task metadata under `agentd.usage`. */
interface UsageRecord {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  steps: number;
  finishReason?: FinishReason;
}

/**
 * `llm`: a chat model behind an OpenAI-compatible API (through the Vercel AI SDK) that may
 * call the tools of MCP servers. The conversation is the task's earlier user and agent
 * messages plus the new one, so a follow-up in the same task keeps its context.
 *
 * The model gets up to `maxSteps` calls per message; after each call that asks for tools
 * the tools run through the MCP pool and their text goes back to the model (a tool's
 * error, or a call that throws, goes back as a short error text the model can recover
 * from). The answer streams as chunks of one artifact (`response`), coalesced to at most
 * one every 50 ms; tool calls and their results show as WORKING updates. The task ends
 * COMPLETED with the answer as its status message and the token usage in its metadata
 * (`agentd.usage`). It ends FAILED when the provider fails (the message names its URL
 * and HTTP status) or when the model is still calling tools after `maxSteps` calls. A
 * cancel aborts the model stream and any MCP call in flight.
 */
export class LlmAgent implements AgentExecutor {
  private readonly running = new RunningTasks();
  private readonly provider: OpenAICompatibleProvider;

  constructor(
    private readonly pool: McpPool | undefined,
    private readonly options: LlmAgentOptions,
  ) {
    const key = options.apiKey === 'none' ? '' : options.apiKey;
    this.provider = createOpenAICompatible({
      name: options.name,
      baseURL: options.baseUrl,
      ...(key ? { apiKey: key } : {}),
      // Without `stream_options.include_usage` OpenAI streams no token counts.
      includeUsage: true,
    });
  }

  /** The tools offered to the model now, under names OpenAI accepts, unique across servers. */
  modelTools(): ModelTool[] {
    const taken = new Set<string>();
    return (this.pool?.select(this.options.servers, this.options.tools) ?? []).map(({ id, tool }) => {
      const name = uniqueName(sanitizeToolName(id), taken);
      taken.add(name);
      return { name, tool };
    });
  }

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const running = this.running.begin(ctx);
    const chunks = new ChunkBatcher(CHUNK_INTERVAL_MS, (text, append, lastChunk) => {
      // A timer may fire between the cancel and the end of the stream: the task is over.
      if (running.signal.aborted) return;
      bus.publish({
        kind: 'artifactUpdate',
        data: {
          taskId: ctx.taskId,
          contextId: ctx.contextId,
          artifact: {
            artifactId: ARTIFACT_ID,
            name: ARTIFACT_ID,
            description: `Answer of ${this.options.model}`,
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
    try {
      await this.run(ctx, bus, running.signal, chunks);
    } finally {
      chunks.dispose();
      running.end();
      bus.finished();
    }
  }

  async cancelTask(taskId: string): Promise<void> {
    this.running.cancel(taskId);
  }

  private async run(
    ctx: RequestContext,
    bus: ExecutionEventBus,
    signal: AbortSignal,
    chunks: ChunkBatcher,
  ): Promise<void> {
    const ids = { taskId: ctx.taskId, contextId: ctx.contextId };
    const log = ctx instanceof AgentdRequestContext ? ctx.logger : undefined;
    const status = (
      state: TaskState,
      text: string,
      extra: { progress?: Record<string, unknown>; usage?: UsageRecord } = {},
    ): void => {
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

    const messages = conversation(ctx);
    if (messages.at(-1)?.role !== 'user') {
      status(TaskState.TASK_STATE_REJECTED, 'The message has no text: this agent reads text parts only');
      return;
    }

    const offered = this.modelTools();
    const byName = new Map(offered.map((t) => [t.name, t.tool]));
    /** Tool calls that failed, by call id, with the text the model got. */
    const failures = new Map<string, string>();
    const tools = this.toolSet(offered, failures, signal, ctx);

    status(TaskState.TASK_STATE_WORKING, `Asking ${this.options.model}`, { progress: { event: 'start' } });
    const started = performance.now();
    const usage: UsageRecord = { steps: 0 };
    let failure: unknown;
    let answer = '';
    let stepHasText = false;
    try {
      const result = streamText({
        model: this.provider.chatModel(this.options.model),
        system: this.options.system,
        messages,
        tools,
        stopWhen: stepCountIs(this.options.maxSteps),
        abortSignal: signal,
        maxRetries: this.options.maxRetries ?? 2,
        ...(this.options.maxOutputTokens !== undefined
          ? { maxOutputTokens: this.options.maxOutputTokens }
          : {}),
        ...(this.options.temperature !== undefined ? { temperature: this.options.temperature } : {}),
        // Errors arrive as stream parts below; the default handler would print them to stderr.
        onError: () => {},
      });
      for await (const part of result.fullStream) {
        switch (part.type) {
          case 'start-step':
            stepHasText = false;
            break;
          case 'text-delta': {
            if (!part.text) break;
            // The text of two steps (before and after a tool call) reads as two paragraphs.
            const text = !stepHasText && answer ? `\n\n${part.text}` : part.text;
            stepHasText = true;
            answer += text;
            chunks.push(text);
            break;
          }
          case 'tool-call': {
            chunks.flush();
            const tool = byName.get(part.toolName);
            status(TaskState.TASK_STATE_WORKING, `Calling tool ${describeTool(tool, part.toolName)}`, {
              progress: { event: 'tool-call', ...toolFields(tool, part.toolName) },
            });
            break;
          }
          case 'tool-result': {
            const tool = byName.get(part.toolName);
            const failed = failures.get(part.toolCallId);
            status(TaskState.TASK_STATE_WORKING, failed ?? `Tool ${tool?.name ?? part.toolName} returned`, {
              progress: {
                event: 'tool-result',
                ...toolFields(tool, part.toolName),
                ok: failed === undefined,
              },
            });
            break;
          }
          case 'tool-error':
            // A call the SDK could not make: an unknown tool, or input that is not JSON.
            status(
              TaskState.TASK_STATE_WORKING,
              `Tool call ${part.toolName} failed: ${cut(messageOf(part.error))}`,
              {
                progress: { event: 'tool-result', tool: part.toolName, ok: false },
              },
            );
            break;
          case 'finish-step':
            addUsage(usage, part.usage);
            usage.steps++;
            usage.finishReason = part.finishReason;
            break;
          case 'error':
            failure ??= part.error;
            break;
          default:
            break;
        }
      }
    } catch (error) {
      failure ??= error;
    }

    const model = this.options.model;
    const { steps, finishReason, ...tokens } = usage;
    const logged = {
      model,
      steps,
      usage: tokens,
      finish_reason: finishReason,
      duration_ms: Math.round(performance.now() - started),
    };
    if (signal.aborted) {
      log?.debug({ ...logged, outcome: 'canceled' }, 'model call');
      return; // the engine records CANCELED
    }
    if (failure !== undefined) {
      const message = describeModelError(failure, this.options.baseUrl);
      log?.warn({ ...logged, outcome: 'failed', reason: message }, 'model call');
      status(TaskState.TASK_STATE_FAILED, message, { usage });
      return;
    }
    log?.debug({ ...logged, outcome: 'ok' }, 'model call');
    if (usage.finishReason === 'tool-calls') {
      // The last allowed call asked for more tools: there is no answer to give.
      status(
        TaskState.TASK_STATE_FAILED,
        `No answer after ${usage.steps} model calls (maxSteps ${this.options.maxSteps}): the model was still calling tools`,
        { usage },
      );
      return;
    }
    chunks.end();
    status(TaskState.TASK_STATE_COMPLETED, answer || `${model} returned an empty answer`, { usage });
  }

  /**
   * The offered tools for the AI SDK. Each calls its MCP tool with the task's signal and
   * trace context and answers the model with the tool's text; a failure becomes a short
   * error text (noted in `failures`), so the model sees it and can recover.
   */
  private toolSet(
    offered: readonly ModelTool[],
    failures: Map<string, string>,
    signal: AbortSignal,
    ctx: RequestContext,
  ): ToolSet {
    const traceContext = ctx instanceof AgentdRequestContext ? ctx.traceContext : undefined;
    const tools: ToolSet = {};
    for (const { name, tool } of offered) {
      tools[name] = dynamicTool({
        description: tool.definition.description ?? tool.definition.title ?? tool.name,
        inputSchema: jsonSchema(modelSchema(tool.definition.inputSchema)),
        execute: async (input, { toolCallId }) => {
          const fail = (text: string): string => {
            failures.set(toolCallId, text);
            return text;
          };
          try {
            if (!this.pool) throw new Error('no MCP servers are configured');
            const result = await this.pool.callTool(tool.server, tool.name, isRecord(input) ? input : {}, {
              signal,
              traceContext,
            });
            if (!result.isError) return toolOutput(result);
            return fail(`Error from tool ${tool.name}: ${cut(toolResultText(result)) || 'no message'}`);
          } catch (error) {
            if (signal.aborted) throw error; // canceled: the stream ends with it
            return fail(`Error calling tool ${tool.name}: ${cut(messageOf(error))}`);
          }
        },
      });
    }
    return tools;
  }
}

/**
 * Coalesces text deltas into artifact chunks, at most one per `intervalMs`. The newest
 * delta is held back until more text comes or the answer ends, so the last chunk
 * (`lastChunk: true`) always carries text.
 */
class ChunkBatcher {
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
function conversation(ctx: RequestContext): ModelMessage[] {
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

/** `get-sum on everything`, or the name the model used when it is no offered tool. */
function describeTool(tool: McpTool | undefined, modelName: string): string {
  return tool ? `${tool.name} on ${tool.server}` : modelName;
}

function toolFields(tool: McpTool | undefined, modelName: string): Record<string, string> {
  return tool ? { tool: tool.name, server: tool.server } : { tool: modelName };
}

function isProgress(message: Message): boolean {
  return message.metadata?.[PROGRESS_METADATA_KEY] !== undefined;
}

/** A tool's result as the model reads it: its text, else its structured content as JSON. */
function toolOutput(result: CallToolResult): string {
  const text = toolResultText(result);
  if (text) return text;
  if (result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  const kinds = [...new Set(result.content.map((c) => c.type))];
  return kinds.length > 0 ? `(the tool returned no text, only ${kinds.join(', ')} content)` : '(no output)';
}

/**
 * A tool's input schema as the model gets it: without the `$schema` draft URI MCP servers
 * put there, which tells the model nothing and which some OpenAI-compatible APIs refuse.
 */
function modelSchema(inputSchema: Record<string, unknown>): JSONSchema7 {
  const schema: Record<string, unknown> = { ...inputSchema };
  delete schema.$schema;
  return schema as JSONSchema7;
}

/** Replaces what OpenAI does not accept in a function name with `_`, and cuts it to 64. */
export function sanitizeToolName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return TOOL_NAME.test(clean) ? clean : 'tool';
}

/** `name`, or `name_2`, `name_3`, ... (still at most 64 characters) when it is taken. */
function uniqueName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let i = 2; ; i++) {
    const suffix = `_${i}`;
    const candidate = `${name.slice(0, 64 - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function addUsage(total: UsageRecord, step: LanguageModelUsage): void {
  const add = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined ? b : b === undefined ? a : a + b;
  const input = add(total.inputTokens, step.inputTokens);
  const output = add(total.outputTokens, step.outputTokens);
  const sum = add(total.totalTokens, step.totalTokens);
  if (input !== undefined) total.inputTokens = input;
  if (output !== undefined) total.outputTokens = output;
  if (sum !== undefined) total.totalTokens = sum;
}

/**
 * A provider failure as one readable line naming the URL: its HTTP status and message,
 * that it could not be reached, or that its answer could not be read.
 */
export function describeModelError(error: unknown, baseUrl: string): string {
  let e = error;
  let attempts = 1;
  if (RetryError.isInstance(e)) {
    attempts = e.errors.length;
    e = e.lastError;
  }
  const tries = attempts > 1 ? ` (${attempts} attempts)` : '';
  if (APICallError.isInstance(e)) {
    const url = redactUrl(e.url);
    if (e.statusCode !== undefined)
      return `Model provider ${url} answered HTTP ${e.statusCode}${tries}: ${cut(e.message)}`;
    const cause = e.cause instanceof Error ? e.cause.message : e.message;
    return `Model provider ${url} is unreachable${tries}: ${cut(cause)}`;
  }
  const name = e instanceof Error ? e.name : '';
  const where = redactUrl(baseUrl);
  if (/JSONParse|TypeValidation|InvalidResponseData|NoOutputGenerated|EmptyResponseBody/.test(name))
    return `Model provider ${where} sent a response that could not be read: ${cut(messageOf(e))}`;
  return `Model call to ${where} failed: ${cut(messageOf(e))}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One line, at most {@link MAX_ERROR_CHARS} characters. */
function cut(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
