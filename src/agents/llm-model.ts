/**
 * The model side of the `llm` agent: the OpenAI-compatible provider, the MCP tools as the
 * model is offered them (names OpenAI accepts, schemas it reads, results as text), and
 * provider failures as one readable line.
 */
import type { RequestContext } from '@a2a-js/sdk/server';
import { createOpenAICompatible, type OpenAICompatibleProvider } from '@ai-sdk/openai-compatible';
import { APICallError, RetryError, dynamicTool, jsonSchema, type JSONSchema7, type ToolSet } from 'ai';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { AgentdRequestContext } from '../engine/hosted-agent.js';
import { toolResultText } from '../mcp/content.js';
import type { McpPool } from '../mcp/mcp-pool.js';
import type { McpTool } from '../mcp/mcp-server-connection.js';
import { redactUrl } from '../observability/logger.js';

/** What a tool's failure text and provider messages are cut to. */
const MAX_ERROR_CHARS = 500;
/** OpenAI's rule for function names. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** An MCP tool under the name the model sees. */
export interface ModelTool {
  readonly name: string;
  readonly tool: McpTool;
}

/**
 * The AI SDK provider for an OpenAI-compatible API named `name` at `baseUrl`. An `apiKey`
 * of `''` or `none` sends no `Authorization` header (local servers).
 */
export function createModelProvider(options: {
  readonly name: string;
  readonly baseUrl: string;
  readonly apiKey: string;
}): OpenAICompatibleProvider {
  const key = options.apiKey === 'none' ? '' : options.apiKey;
  return createOpenAICompatible({
    name: options.name,
    baseURL: options.baseUrl,
    ...(key ? { apiKey: key } : {}),
    // Without `stream_options.include_usage` OpenAI streams no token counts.
    includeUsage: true,
  });
}

/**
 * The offered tools for the AI SDK. Each calls its MCP tool with the task's signal and
 * trace context and answers the model with the tool's text; a failure becomes a short
 * error text (noted in `failures`), so the model sees it and can recover.
 */
export function modelToolSet(
  pool: McpPool | undefined,
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
          if (!pool) throw new Error('no MCP servers are configured');
          const result = await pool.callTool(tool.server, tool.name, isRecord(input) ? input : {}, {
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
export function uniqueName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let i = 2; ; i++) {
    const suffix = `_${i}`;
    const candidate = `${name.slice(0, 64 - suffix.length)}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
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

/** The message of a thrown value, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One line, at most {@link MAX_ERROR_CHARS} characters. */
export function cut(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
