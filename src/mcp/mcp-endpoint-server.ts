/**
 * The MCP server behind `/mcp`: a fresh `McpServer` per request (stateless, both protocol
 * eras) offering the hosted agents' skills as tools. A call sends an A2A message through the
 * engine in-process, as SendStreamingMessage does (SendMessage for an agent that does not
 * stream), reports the task's progress while it runs, and cancels the task when the MCP
 * request is cancelled or its client goes away.
 */
import { Role, type Message, type SendMessageRequest, type StreamResponse, type Task } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import {
  createMcpHandler,
  McpServer,
  type CallToolResult,
  type McpHttpHandler,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { textPart, dataPart } from '../agents/parts.js';
import { applyStreamEvent } from '../engine/reducer.js';
import type { HostedAgent } from '../engine/hosted-agent.js';
import type { TaskEngine } from '../engine/task-engine.js';
import { AgentdError, toAgentdError } from '../errors.js';
import { callContext } from '../protocol/http/http-context.js';
import { VERSION } from '../version.js';
import type { McpCallRegistry } from './mcp-endpoint-cancels.js';
import {
  errorResult,
  messageResult,
  META_CONTEXT_ID,
  META_TASK_ID,
  progressMessage,
  taskResult,
} from './mcp-endpoint-result.js';
import { MCP_TOOLS_EXTENSION, ToolCatalogue, type AgentTool, type TextArgs } from './mcp-endpoint-tools.js';

/** The HTTP request an MCP request came in on, and who sent it (see `clientKey`). */
export interface McpRequestOrigin {
  readonly request: FastifyRequest;
  readonly client: string;
}

export interface McpServerDeps {
  readonly engine: TaskEngine;
  readonly agents: () => readonly HostedAgent[];
  readonly logger: Logger;
  readonly calls: McpCallRegistry;
  /** The origin of a web `Request` the endpoint built. */
  readonly originOf: (request: Request) => McpRequestOrigin | undefined;
  /** Whether the caller may use an agent; the tools of the others are not offered. */
  readonly mayUse?: ((request: FastifyRequest, agent: HostedAgent) => boolean) | undefined;
}

const INSTRUCTIONS =
  'Each tool sends a message to an A2A agent hosted by this agentd server (tool names are ' +
  "<agent>__<skill>) and returns the agent's answer. Results carry the A2A task and context ids " +
  'in _meta ("agentd/taskId", "agentd/contextId"): pass contextId to continue a conversation, and ' +
  'taskId with contextId to answer an agent that asked for input.';

/** The web-standard MCP handler: modern (2026-07-28) requests, and 2025-era ones served statelessly. */
export function createAgentdMcpHandler(deps: McpServerDeps): McpHttpHandler {
  const catalogue = new ToolCatalogue(deps.logger);
  return createMcpHandler(
    ({ requestInfo }) => {
      const origin = requestInfo && deps.originOf(requestInfo);
      if (!origin) throw new Error('MCP request that did not come through the /mcp route');
      const server = new McpServer({ name: 'agentd', version: VERSION }, { instructions: INSTRUCTIONS });
      const mayUse = deps.mayUse;
      const agents = mayUse ? deps.agents().filter((a) => mayUse(origin.request, a)) : deps.agents();
      for (const tool of catalogue.tools(agents)) {
        server.registerTool(
          tool.name,
          {
            title: tool.title,
            description: tool.description,
            inputSchema: tool.inputSchema,
            _meta: { 'agentd/agent': tool.agent.name, 'agentd/skill': tool.skillId },
          },
          (args: unknown, ctx: ServerContext) => callTool(deps, tool, args, ctx, origin),
        );
      }
      return server;
    },
    // Refused requests (wrong media type, unsupported protocol version, ...) and failures
    // inside the SDK; the client gets its JSON-RPC error either way.
    { onerror: (error) => deps.logger.debug({ err: error }, 'MCP request not served') },
  );
}

type Outcome =
  { readonly kind: 'task'; readonly task: Task } | { readonly kind: 'message'; readonly message: Message };

/** One tool call: the A2A message out, the agent's outcome back as a tool result. Never throws. */
async function callTool(
  deps: McpServerDeps,
  tool: AgentTool,
  args: unknown,
  ctx: ServerContext,
  origin: McpRequestOrigin,
): Promise<CallToolResult> {
  const registration = deps.calls.register(origin.client, ctx.mcpReq.id);
  const signal = AbortSignal.any([ctx.mcpReq.signal, registration.signal]);
  const call: Call = {
    deps,
    agent: tool.agent,
    params: sendRequest(tool, args),
    ctx: callContext(origin.request, signal),
    signal,
  };
  try {
    const outcome = tool.agent.card.capabilities?.streaming
      ? await streamed(call, progressReporter(ctx))
      : await blocking(call);
    return outcome.kind === 'message'
      ? messageResult(outcome.message)
      : taskResult(outcome.task, { toolName: tool.name, canContinue: tool.mode === 'text' });
  } catch (error) {
    const e = toAgentdError(error);
    if (e.code === 'INTERNAL') {
      deps.logger.error({ err: error, tool: tool.name, agent_name: tool.agent.name }, 'MCP tool call failed');
    }
    return errorResult(e);
  } finally {
    registration.release();
  }
}

interface Call {
  readonly deps: McpServerDeps;
  readonly agent: HostedAgent;
  readonly params: SendMessageRequest;
  readonly ctx: ServerCallContext;
  /** Aborts when the MCP request is cancelled or its client disconnects. */
  readonly signal: AbortSignal;
}

/**
 * SendStreamingMessage, folding the events into the task and reporting each as progress,
 * until the task rests. A cancelled call cancels the task (as soon as its id is known) and
 * stops following it once the cancel is recorded.
 */
async function streamed(call: Call, report: ProgressReporter): Promise<Outcome> {
  const following = new AbortController();
  let task: Task | undefined;
  let canceling = false;
  const cancel = (): void => {
    if (!task || canceling) return;
    canceling = true;
    void cancelTask(call, task.id).finally(() => following.abort());
  };
  call.signal.addEventListener('abort', cancel, { once: true });
  try {
    for await (const { event } of call.deps.engine.sendMessageStream(
      call.agent,
      call.params,
      call.ctx,
      following.signal,
    )) {
      const p = event.payload;
      if (!task && p?.$case === 'message') return { kind: 'message', message: p.value };
      task = task ? applyStreamEvent(task, event) : firstTask(event.payload);
      if (call.signal.aborted) cancel();
      else await report(event, task);
    }
  } finally {
    call.signal.removeEventListener('abort', cancel);
  }
  if (!task) throw new AgentdError('INTERNAL', 'The agent stream ended before the task started');
  return { kind: 'task', task };
}

/** SendMessage, for agents that do not stream: no progress, but cancellable once the task exists. */
async function blocking(call: Call): Promise<Outcome> {
  let taskId: string | undefined;
  const cancel = (): void => {
    if (taskId) void cancelTask(call, taskId);
  };
  call.signal.addEventListener('abort', cancel, { once: true });
  try {
    const result = await call.deps.engine.sendMessage(call.agent, call.params, call.ctx, (id) => {
      taskId = id;
      if (call.signal.aborted) cancel();
    });
    return 'artifacts' in result ? { kind: 'task', task: result } : { kind: 'message', message: result };
  } finally {
    call.signal.removeEventListener('abort', cancel);
  }
}

/** CancelTask through the engine, as an A2A client would; a task that already finished is left alone. */
async function cancelTask(call: Call, id: string): Promise<void> {
  try {
    await call.deps.engine.cancelTask(call.agent, { tenant: '', id, metadata: undefined }, call.ctx);
  } catch (error) {
    const e = toAgentdError(error);
    if (e.code !== 'TASK_NOT_CANCELABLE') {
      call.deps.logger.warn({ err: error, task_id: id }, 'could not cancel the task of a cancelled MCP call');
    }
  }
}

/** The task a stream starts with (a new task's first event, or a continuation's snapshot). */
function firstTask(payload: StreamResponse['payload']): Task {
  if (payload?.$case === 'task') return payload.value;
  throw new AgentdError(
    'INVALID_AGENT_RESPONSE',
    `The stream started with a ${payload?.$case ?? 'empty'} event, not a task`,
  );
}

/** Reports a streamed event of a task to the MCP caller. */
type ProgressReporter = (event: StreamResponse, task: Task) => Promise<void>;

/**
 * Sends `notifications/progress` for a streamed event when the caller asked for progress;
 * its `_meta` names the task, so the caller knows the task id before the call returns.
 */
function progressReporter(ctx: ServerContext): ProgressReporter {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  let progress = 0;
  return async (event, task) => {
    if (progressToken === undefined) return;
    const message = progressMessage(event);
    if (!message) return;
    progress += 1;
    const _meta = { [META_TASK_ID]: task.id, [META_CONTEXT_ID]: task.contextId };
    await ctx.mcpReq
      .notify({ method: 'notifications/progress', params: { progressToken, progress, message, _meta } })
      .catch(() => {}); // the client went away; the abort signal handles that
  };
}

/** The A2A request for a tool call: a text part, or for a declared MCP tool its arguments as data. */
function sendRequest(tool: AgentTool, args: unknown): SendMessageRequest {
  const text = tool.mode === 'text' ? (args as TextArgs) : undefined;
  const message: Message = {
    messageId: randomUUID(),
    contextId: text?.contextId ?? '',
    taskId: text?.taskId ?? '',
    role: Role.ROLE_USER,
    parts: text ? [textPart(text.text)] : [dataPart({ tool: tool.skillId, arguments: args ?? {} })],
    metadata: undefined,
    extensions: text ? [] : [MCP_TOOLS_EXTENSION],
    referenceTaskIds: [],
  };
  return { tenant: '', message, configuration: undefined, metadata: undefined };
}
