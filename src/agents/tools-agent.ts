import { Role, TaskState, type AgentExtension, type AgentSkill, type Message } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { AgentdError } from '../errors.js';
import { isoNow } from '../engine/clock.js';
import { AgentdRequestContext } from '../engine/hosted-agent.js';
import { toolResultText, toolResultToParts } from '../mcp/content.js';
import type { McpPool, SelectedTool } from '../mcp/mcp-pool.js';
import { textMessage } from './parts.js';
import { RunningTasks } from './running-tasks.js';

/** Card extension listing, per skill, the MCP server and tool behind it and its input schema. */
export const MCP_TOOLS_EXTENSION = 'https://agentd.dev/extensions/mcp-tools/v1';

/** Cards of agents whose skills change at run time (tools appear and go with their servers). */
export interface CardContributor {
  cardSkills(): AgentSkill[];
  cardExtensions(): AgentExtension[];
}

export function isCardContributor(value: unknown): value is CardContributor {
  return typeof (value as Partial<CardContributor> | null)?.cardSkills === 'function';
}

export interface ToolsAgentOptions {
  readonly servers: readonly string[];
  /** Only these tools (names, or `server/tool`). */
  readonly tools?: readonly string[] | undefined;
}

/** A tool as a skill: its id is the tool's name, or `server__tool` when two servers share the name. */
type SkillTool = SelectedTool;

/** A request the agent understood, or why it did not. */
type ParsedCall = { skill: SkillTool; args: Record<string, unknown> } | { problem: string };

/**
 * `tools`: the tools of one or more MCP servers as A2A skills, one skill per tool.
 *
 * A message names the tool and its arguments in a data part `{ "tool": "get-sum",
 * "arguments": { "a": 1, "b": 2 } }`, or in text: the tool's name followed by a JSON object
 * (`get-sum {"a": 1, "b": 2}`) or `key=value` pairs (`get-sum a=1 b=2`, values parsed as
 * JSON when they can be). The call's progress streams as WORKING updates; the result is an
 * artifact named after the tool (MCP content mapped part by part, structured content as a
 * data part). A tool's error result fails the task with the tool's message; a request
 * naming no known tool, or arguments that do not fit the tool's input schema, is REJECTED
 * with a message that says what is wrong (nothing was called).
 */
export class ToolsAgent implements AgentExecutor, CardContributor {
  private readonly running = new RunningTasks();

  constructor(
    private readonly pool: McpPool,
    private readonly options: ToolsAgentOptions,
  ) {}

  /** The current skills, from the servers' current tool lists. */
  skills(): SkillTool[] {
    return this.pool.select(this.options.servers, this.options.tools);
  }

  cardSkills(): AgentSkill[] {
    return this.skills().map(({ id, tool }) => {
      const d = tool.definition;
      return {
        id,
        name: d.title ?? d.annotations?.title ?? d.name,
        description: d.description ?? '',
        tags: ['mcp', `mcp:${tool.server}`],
        examples: [JSON.stringify({ tool: id, arguments: exampleArguments(d.inputSchema) })],
        inputModes: ['application/json', 'text/plain'],
        outputModes: [],
        securityRequirements: [],
      };
    });
  }

  cardExtensions(): AgentExtension[] {
    const tools: Record<string, unknown> = {};
    for (const { id, tool } of this.skills()) {
      tools[id] = { server: tool.server, tool: tool.name, inputSchema: tool.definition.inputSchema };
    }
    return [
      {
        uri: MCP_TOOLS_EXTENSION,
        description: 'Skills are MCP tools: send a data part {"tool": "<skill id>", "arguments": {...}}',
        required: false,
        params: { tools },
      },
    ];
  }

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const run = this.running.begin(ctx);
    const ids = { taskId: ctx.taskId, contextId: ctx.contextId };
    const status = (state: TaskState, text: string, metadata?: Record<string, unknown>): void =>
      bus.publish({
        kind: 'statusUpdate',
        data: {
          ...ids,
          status: { state, message: textMessage(Role.ROLE_AGENT, text, ids), timestamp: isoNow() },
          metadata,
        },
      });
    try {
      const parsed = this.parse(ctx.userMessage);
      if ('problem' in parsed) {
        status(TaskState.TASK_STATE_REJECTED, parsed.problem);
        return;
      }
      const { skill, args } = parsed;
      const where = { server: skill.tool.server, tool: skill.tool.name };
      status(TaskState.TASK_STATE_WORKING, `Calling ${skill.tool.name} on ${skill.tool.server}`);
      let result;
      try {
        result = await this.pool.callTool(skill.tool.server, skill.tool.name, args, {
          signal: run.signal,
          traceContext: ctx instanceof AgentdRequestContext ? ctx.traceContext : undefined,
          onProgress: (p) =>
            status(
              TaskState.TASK_STATE_WORKING,
              [`${p.progress}${p.total !== undefined ? `/${p.total}` : ''}`, p.message]
                .filter(Boolean)
                .join(' '),
              {
                'agentd.mcp': {
                  ...where,
                  progress: p.progress,
                  ...(p.total !== undefined ? { total: p.total } : {}),
                },
              },
            ),
        });
      } catch (error) {
        if (run.signal.aborted) return; // canceled: the engine records it
        const e = error as Error;
        const rejected =
          error instanceof AgentdError &&
          (error.code === 'MCP_INVALID_ARGUMENTS' || error.code === 'MCP_TOOL_NOT_FOUND');
        status(rejected ? TaskState.TASK_STATE_REJECTED : TaskState.TASK_STATE_FAILED, e.message, {
          'agentd.mcp': { ...where, error: error instanceof AgentdError ? error.code : 'MCP_CALL_FAILED' },
        });
        return;
      }
      if (result.isError) {
        status(
          TaskState.TASK_STATE_FAILED,
          toolResultText(result) || `Tool ${skill.tool.name} reported an error without a message`,
          { 'agentd.mcp': { ...where, error: 'MCP_TOOL_ERROR' } },
        );
        return;
      }
      bus.publish({
        kind: 'artifactUpdate',
        data: {
          ...ids,
          artifact: {
            artifactId: `${skill.id}-result`,
            name: skill.id,
            description: `Result of MCP tool ${skill.tool.name} on ${skill.tool.server}`,
            parts: toolResultToParts(result),
            metadata: undefined,
            extensions: [],
          },
          append: false,
          lastChunk: true,
          metadata: undefined,
        },
      });
      status(TaskState.TASK_STATE_COMPLETED, `${skill.tool.name} done`, { 'agentd.mcp': where });
    } finally {
      run.end();
      bus.finished();
    }
  }

  async cancelTask(taskId: string): Promise<void> {
    this.running.cancel(taskId);
  }

  /** Finds the tool and its arguments in a message (a data part first, else its text). */
  private parse(message: Message): ParsedCall {
    const skills = this.skills();
    const usage = (): string =>
      skills.length === 0
        ? `no tools are available right now (${this.serverStates()})`
        : `available tools: ${skills.map((s) => s.id).join(', ')}. Send a data part {"tool": "<name>", "arguments": {...}} or text "<name> {json}" / "<name> key=value ..."`;
    const find = (name: string): SkillTool | undefined =>
      skills.find((s) => s.id === name) ?? skills.find((s) => `${s.tool.server}/${s.tool.name}` === name);

    for (const p of message.parts) {
      if (p.content?.$case !== 'data') continue;
      const data = p.content.value as { tool?: unknown; arguments?: unknown } | null;
      if (typeof data !== 'object' || data === null || Array.isArray(data) || !('tool' in data)) continue;
      if (typeof data.tool !== 'string') return { problem: 'data part field "tool" must be a string' };
      const skill = find(data.tool);
      if (!skill) return { problem: `unknown tool "${data.tool}"; ${usage()}` };
      const args = data.arguments ?? {};
      if (typeof args !== 'object' || args === null || Array.isArray(args))
        return { problem: 'data part field "arguments" must be an object' };
      return { skill, args: args as Record<string, unknown> };
    }

    const text = message.parts
      .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
      .join('\n')
      .trim();
    if (!text) return { problem: `the message names no tool; ${usage()}` };
    const match = /^(\S+)\s*([\s\S]*)$/.exec(text);
    const name = match?.[1] ?? '';
    const rest = (match?.[2] ?? '').trim();
    const skill = find(name);
    if (!skill) return { problem: `unknown tool "${name}"; ${usage()}` };
    if (!rest) return { skill, args: {} };
    if (rest.startsWith('{')) {
      try {
        const args = JSON.parse(rest) as unknown;
        if (typeof args === 'object' && args !== null && !Array.isArray(args))
          return { skill, args: args as Record<string, unknown> };
      } catch (error) {
        return { problem: `arguments of "${name}" are not valid JSON: ${(error as Error).message}` };
      }
      return { problem: `arguments of "${name}" must be a JSON object` };
    }
    const args: Record<string, unknown> = {};
    for (const pair of rest.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0)
        return { problem: `cannot read "${pair}": write arguments as key=value or as one JSON object` };
      const raw = pair.slice(eq + 1);
      args[pair.slice(0, eq)] = parseValue(raw);
    }
    return { skill, args };
  }

  private serverStates(): string {
    return this.options.servers
      .map((n) => {
        const c = this.pool.server(n);
        return `MCP server "${n}" is ${c?.state ?? 'unknown'}${c?.lastError ? `: ${c.lastError}` : ''}`;
      })
      .join('; ');
  }
}

/** `1` → 1, `true` → true, `"a b"` → "a b", `abc` → "abc". */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** A skeleton argument object for the card's example: each required property with a placeholder. */
function exampleArguments(schema: unknown): Record<string, unknown> {
  const s = schema as {
    properties?: Record<string, { type?: string; default?: unknown }>;
    required?: string[];
  };
  const out: Record<string, unknown> = {};
  for (const name of s.required ?? []) {
    const prop = s.properties?.[name];
    out[name] =
      prop?.default ??
      (prop?.type === 'number' || prop?.type === 'integer'
        ? 0
        : prop?.type === 'boolean'
          ? false
          : prop?.type === 'array'
            ? []
            : prop?.type === 'object'
              ? {}
              : '');
  }
  return out;
}
