import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import type { OpenAICompatibleProvider } from '@ai-sdk/openai-compatible';
import { stepCountIs, streamText } from 'ai';
import { AgentdRequestContext } from '../engine/hosted-agent.js';
import type { McpPool } from '../mcp/mcp-pool.js';
import {
  createModelProvider,
  cut,
  describeModelError,
  messageOf,
  modelToolSet,
  sanitizeToolName,
  uniqueName,
  type ModelTool,
} from './llm-model.js';
import {
  addUsage,
  answerChunks,
  conversation,
  describeTool,
  statusPublisher,
  toolFields,
  type ChunkBatcher,
  type UsageRecord,
} from './llm-run-events.js';
import { RunningTasks } from './running-tasks.js';

export { describeModelError, sanitizeToolName, type ModelTool } from './llm-model.js';
export { USAGE_METADATA_KEY } from './llm-run-events.js';

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
    this.provider = createModelProvider(options);
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
    const chunks = answerChunks(ctx, bus, this.options.model, running.signal);
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
    const log = ctx instanceof AgentdRequestContext ? ctx.logger : undefined;
    const status = statusPublisher(ctx, bus);

    const messages = conversation(ctx);
    if (messages.at(-1)?.role !== 'user') {
      status(TaskState.TASK_STATE_REJECTED, 'The message has no text: this agent reads text parts only');
      return;
    }

    const offered = this.modelTools();
    const byName = new Map(offered.map((t) => [t.name, t.tool]));
    /** Tool calls that failed, by call id, with the text the model got. */
    const failures = new Map<string, string>();
    const tools = modelToolSet(this.pool, offered, failures, signal, ctx);

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
}
