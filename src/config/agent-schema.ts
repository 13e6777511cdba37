/**
 * The agents and MCP servers sections of the configuration schema (see schema.ts): the
 * fields every agent has, and those of each agent kind.
 */
import { z } from 'zod';
import { secretSchema } from './security-schema.js';
import { workflowFields } from '../workflow/definition.js';

export const skillSchema = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  description: z.string().default(''),
  tags: z.array(z.string()).default([]),
  examples: z.array(z.string()).default([]),
  /** Scopes a caller needs (all of them) to use this skill, besides the agent's. */
  scopes: z.array(z.string().min(1)).default([]),
});

const agentCommon = {
  /** URL-safe name; the agent is served under `/a2a/<name>`. */
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/,
      'must be 1-63 letters, digits, "-" or "_", starting with a letter or digit',
    ),
  description: z.string().default(''),
  version: z.string().default('1.0.0'),
  /** The agent whose card is also served at `/.well-known/agent-card.json`. */
  default: z.boolean().default(false),
  skills: z.array(skillSchema).optional(),
  streaming: z.boolean().default(true),
  pushNotifications: z.boolean().default(true),
  /** Scopes a caller needs (all of them) to use this agent when authentication is on. */
  scopes: z.array(z.string().min(1)).default([]),
  /** When set, GetExtendedAgentCard returns the card with these overrides. */
  extendedCard: z
    .strictObject({ description: z.string().optional(), skills: z.array(skillSchema).optional() })
    .optional(),
};

const mcpServerCommon = {
  /** Name used in tool lookups, metrics (`server` label), logs and readiness checks. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, ".", "-" or "_"'),
  /** Per-call timeout for this server; default `mcp.timeoutSeconds` (MCP_SERVER_TIMEOUT). */
  timeoutSeconds: z.number().min(0.01).optional(),
  /** When true (default) readiness fails while this server is unreachable; when false it is only reported. */
  required: z.boolean().default(true),
};

export const mcpServerSchema = z.discriminatedUnion('transport', [
  z.strictObject({
    ...mcpServerCommon,
    transport: z.literal('stdio'),
    /** The program to start; `node` means the Node.js running agentd. */
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** Added to a minimal inherited environment (PATH, HOME, ...); values may be secrets. */
    env: z.record(z.string(), secretSchema).default({}),
    /** Working directory, relative to the config file's directory. */
    cwd: z.string().optional(),
  }),
  z.strictObject({
    ...mcpServerCommon,
    /** Streamable HTTP. */
    transport: z.literal('http'),
    url: z.url(),
    /** Extra request headers; values may be secrets (`{ env: NAME }`, `{ file: path }`). */
    headers: z.record(z.string(), secretSchema).default({}),
    /** Sent as `Authorization: Bearer <token>`. */
    bearerToken: secretSchema.optional(),
  }),
]);

/** MCP tools of configured servers, by server name, optionally only some of them. */
const toolSource = {
  /** MCP servers (names from `mcp.servers`) whose tools this agent uses. */
  servers: z.array(z.string().min(1)).min(1),
  /** Only these tools (names, or `server/tool`); default all. */
  tools: z.array(z.string().min(1)).optional(),
};

export const agentSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...agentCommon, kind: z.literal('echo') }),
  z.strictObject({
    ...agentCommon,
    kind: z.literal('countdown'),
    stepMs: z.number().int().min(1).max(60_000).default(300),
    maxCount: z.number().int().min(1).max(100_000).default(1000),
  }),
  z.strictObject({
    ...agentCommon,
    kind: z.literal('module'),
    /** Path to an ES module exporting an `@a2a-js/sdk` AgentExecutor (instance, class or factory). */
    module: z.string().min(1),
    export: z.string().default('default'),
    /** Passed to the class constructor or factory function. */
    options: z.record(z.string(), z.unknown()).default({}),
  }),
  z.strictObject({
    ...agentCommon,
    /** Exposes MCP tools as A2A skills: one skill per tool. */
    kind: z.literal('tools'),
    ...toolSource,
  }),
  z.strictObject({
    ...agentCommon,
    /** A chat model (OpenAI-compatible API) that may call MCP tools. */
    kind: z.literal('llm'),
    /** The API's base URL, e.g. https://api.openai.com/v1 or http://localhost:11434/v1. */
    baseUrl: z.url(),
    model: z.string().min(1),
    /** Without a key the agent is not started (logged); local servers that need none: `apiKey: none`. */
    apiKey: secretSchema.default({ env: 'OPENAI_API_KEY' }),
    system: z.string().default('You are a helpful assistant. Use the tools you are given when they help.'),
    /** Model calls per message (each tool round is one); the loop stops there. */
    maxSteps: z.number().int().min(1).max(50).default(5),
    maxOutputTokens: z.number().int().min(1).optional(),
    temperature: z.number().min(0).max(2).optional(),
    servers: toolSource.servers.default([]),
    tools: toolSource.tools,
  }),
  z.strictObject({
    ...agentCommon,
    /** Runs other agents (and questions to the user) as steps of a DAG; see src/workflow/. */
    kind: z.literal('workflow'),
    ...workflowFields,
  }),
  z.strictObject({
    ...agentCommon,
    /** Sends each message on to the agent whose skills match it; see docs/agents.md. */
    kind: z.literal('router'),
    /** Tried in order before anything else: the first whose keywords appear in the message wins. */
    routes: z
      .array(
        z
          .strictObject({
            agent: z.string().min(1).optional(),
            capability: z.string().min(1).optional(),
            keywords: z.array(z.string().min(1)).min(1),
          })
          .refine((r) => (r.agent === undefined) !== (r.capability === undefined), {
            message: 'a route names exactly one of agent or capability',
          }),
      )
      .default([]),
    /** The agents it may choose among; default every registered agent but itself. */
    candidates: z.array(z.string().min(1)).optional(),
    /** Gets the message when nothing else matches; without it such a message fails. */
    fallback: z.string().min(1).optional(),
    /** Give up on the chosen agent (PEER_TIMEOUT) after this long. */
    timeoutSeconds: z.number().int().min(1).max(86_400).optional(),
    /** A chat model (OpenAI-compatible) that picks the agent from the candidates' cards. */
    llm: z
      .strictObject({
        baseUrl: z.url(),
        model: z.string().min(1),
        apiKey: secretSchema.default({ env: 'OPENAI_API_KEY' }),
      })
      .optional(),
  }),
]);
