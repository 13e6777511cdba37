/**
 * The MCP tools agentd offers: one per skill of each hosted agent, named
 * `<agent>__<skillId>`. A skill takes a text message by default; a skill a tools agent
 * declares through the mcp-tools extension takes that tool's own arguments.
 */
import type { AgentCard, AgentSkill } from '@a2a-js/sdk';
import {
  fromJsonSchema,
  type JsonSchemaType,
  type StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { HostedAgent } from '../engine/hosted-agent.js';

import { MCP_TOOLS_EXTENSION } from '../agents/tools-agent.js';

/** The A2A extension by which a tools agent declares the MCP tool behind each of its skills. */
export { MCP_TOOLS_EXTENSION };

/** Longest tool name MCP clients reliably accept (several LLM APIs cap function names at 64). */
export const MAX_TOOL_NAME = 64;

/** Arguments of a text-message tool (the default). */
export interface TextArgs {
  readonly text: string;
  readonly contextId?: string;
  readonly taskId?: string;
}

/**
 * How a tool call becomes an A2A message: `text` sends `TextArgs.text` as a text part and may
 * continue a context or task; `tool` sends `{ tool: skillId, arguments }` as a data part.
 */
export type ToolMode = 'text' | 'tool';

/** One MCP tool: its definition and the agent skill it calls. */
export interface AgentTool {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly inputSchema: StandardSchemaWithJSON;
  readonly agent: HostedAgent;
  readonly skillId: string;
  readonly mode: ToolMode;
}

const TEXT_INPUT: JsonSchemaType = {
  type: 'object',
  properties: {
    text: { type: 'string', minLength: 1, description: 'The message to send to the agent.' },
    contextId: {
      type: 'string',
      description: 'Continue a conversation: the contextId a previous call of this agent returned.',
    },
    taskId: {
      type: 'string',
      description:
        'Answer an agent that asked for input: the taskId of the task waiting for it (with its contextId).',
    },
  },
  required: ['text'],
};

type Draft = Omit<AgentTool, 'name' | 'agent'> & { readonly baseName: string };

/**
 * Builds the tool list for the hosted agents. Each card's tools are built once (schemas are
 * compiled then) and kept until the card is replaced; a skill whose declared input schema
 * does not compile is left out with a warning rather than breaking the whole list.
 */
export class ToolCatalogue {
  private readonly textInput = fromJsonSchema<TextArgs>(TEXT_INPUT) as StandardSchemaWithJSON;
  private readonly byCard = new WeakMap<AgentCard, readonly Draft[]>();

  constructor(private readonly logger: Logger) {}

  /** The tools of these agents, with names unique across them. */
  tools(agents: readonly HostedAgent[]): AgentTool[] {
    const taken = new Set<string>();
    const tools: AgentTool[] = [];
    for (const agent of agents) {
      for (const draft of this.drafts(agent)) {
        let name = draft.baseName;
        // Sanitising can make two skills' names equal (`a.b`, `a_b`): the later one gets a hash.
        if (taken.has(name)) name = hashedName(name, agent.name, draft.skillId);
        if (taken.has(name)) continue; // the same skill listed twice: offered once
        taken.add(name);
        tools.push({ ...draft, name, agent });
      }
    }
    return tools;
  }

  private drafts(agent: HostedAgent): readonly Draft[] {
    const card = agent.card;
    let drafts = this.byCard.get(card);
    if (!drafts) {
      drafts = this.build(agent.name, card);
      this.byCard.set(card, drafts);
    }
    return drafts;
  }

  private build(agentName: string, card: AgentCard): Draft[] {
    const declared = declaredTools(card);
    const drafts: Draft[] = [];
    for (const skill of card.skills) {
      const baseName = toolName(agentName, skill.id);
      const common = { baseName, title: skill.name || skill.id, skillId: skill.id };
      const tool = declared?.get(skill.id);
      if (!tool) {
        drafts.push({
          ...common,
          description: toolDescription(card, skill),
          inputSchema: this.textInput,
          mode: 'text',
        });
        continue;
      }
      try {
        drafts.push({
          ...common,
          description: `${toolDescription(card, skill)}\n\n(MCP tool "${tool.tool}" of server "${tool.server}", through agent "${agentName}".)`,
          inputSchema: fromJsonSchema(objectSchema(tool.inputSchema)) as StandardSchemaWithJSON,
          mode: 'tool',
        });
      } catch (error) {
        this.logger.warn(
          { err: error, agent_name: agentName, skill: skill.id },
          'skill left out of the MCP tools: its inputSchema is not a usable JSON Schema',
        );
      }
    }
    return drafts;
  }
}

/**
 * `<agent>__<skillId>` in the charset MCP and LLM APIs accept (`[A-Za-z0-9_-]`, other
 * characters become `_`); a name over {@link MAX_TOOL_NAME} is cut and ends with a hash of
 * the full one, so it stays unique and the same on every request.
 */
export function toolName(agent: string, skillId: string): string {
  const name = `${agent}__${skillId}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return name.length <= MAX_TOOL_NAME ? name : hashedName(name, agent, skillId);
}

function hashedName(name: string, agent: string, skillId: string): string {
  const hash = createHash('sha256').update(`${agent}\n${skillId}`).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_TOOL_NAME - hash.length - 1)}_${hash}`;
}

function toolDescription(card: AgentCard, skill: AgentSkill): string {
  const about = card.description.trim() || `A2A agent "${card.name}".`;
  const skillText = skill.description.trim();
  return skillText ? `${about}\n\nSkill "${skill.name || skill.id}": ${skillText}` : about;
}

interface DeclaredTool {
  readonly server: string;
  readonly tool: string;
  readonly inputSchema: Record<string, unknown>;
}

/** The tools a card declares through the mcp-tools extension, by skill id (entries of the wrong shape are ignored). */
function declaredTools(card: AgentCard): Map<string, DeclaredTool> | undefined {
  const extension = card.capabilities?.extensions.find((e) => e.uri === MCP_TOOLS_EXTENSION);
  const tools: unknown = extension?.params?.tools;
  if (!isObject(tools)) return undefined;
  // A Map: skill ids come from remote cards, and "constructor" must not find Object.prototype.
  const declared = new Map<string, DeclaredTool>();
  for (const [skillId, entry] of Object.entries(tools)) {
    if (!isObject(entry) || !isObject(entry.inputSchema)) continue;
    declared.set(skillId, {
      server: typeof entry.server === 'string' ? entry.server : '',
      tool: typeof entry.tool === 'string' ? entry.tool : skillId,
      inputSchema: entry.inputSchema,
    });
  }
  return declared;
}

/** MCP tool inputs are objects: a schema without a `type` is taken as one; any other type is refused. */
function objectSchema(schema: Record<string, unknown>): JsonSchemaType {
  if (schema.type === undefined) return { ...schema, type: 'object' } as JsonSchemaType;
  if (schema.type !== 'object') throw new Error(`inputSchema.type is "${String(schema.type)}", not "object"`);
  return schema as JsonSchemaType;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
