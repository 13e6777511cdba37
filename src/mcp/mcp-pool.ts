import type { CallToolResult } from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import type { McpConfig } from '../config/schema.js';
import { err } from '../errors.js';
import type { HealthChecker } from '../observability/health-checker.js';
import type { Tracing } from '../observability/tracing.js';
import {
  McpServerConnection,
  type McpCallObserver,
  type McpTool,
  type ToolCallOptions,
} from './mcp-server-connection.js';

export interface McpPoolOptions {
  readonly config: McpConfig;
  readonly logger: Logger;
  readonly tracing: Tracing;
  readonly observer?: McpCallObserver | undefined;
  readonly baseDir: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** A tool as an agent offers it, with an id unique among that agent's tools. */
export interface SelectedTool {
  readonly id: string;
  readonly tool: McpTool;
}

/** What `/api/v1/mcp/servers` and logs say about one server. */
export interface McpServerStatus {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  readonly state: string;
  readonly circuit: string;
  readonly required: boolean;
  readonly tools: string[];
  readonly error?: string;
}

/**
 * The MCP servers of the config, one {@link McpServerConnection} each, shared by every
 * agent that uses them. `start()` waits for each server's first connection attempt (so
 * agents begin with the tools of reachable servers) but never fails: an unreachable
 * server keeps being retried and is reported by the readiness check.
 */
export class McpPool {
  private readonly connections = new Map<string, McpServerConnection>();
  private readonly listeners = new Set<(server: string) => void>();
  private observer: McpCallObserver | undefined;

  constructor(options: McpPoolOptions) {
    const { config } = options;
    this.observer = options.observer;
    const observer: McpCallObserver = {
      mcpToolCall: (server, tool, status, seconds) =>
        this.observer?.mcpToolCall(server, tool, status, seconds),
    };
    for (const server of config.servers) {
      const connection: McpServerConnection = new McpServerConnection(server, {
        logger: options.logger.child({ component: 'mcp' }),
        tracing: options.tracing,
        observer,
        defaults: config,
        baseDir: options.baseDir,
        env: options.env ?? process.env,
        onToolsChanged: () => {
          for (const l of this.listeners) l(server.name);
        },
      });
      this.connections.set(server.name, connection);
    }
  }

  /** Where call metrics go (set once the metrics exist). */
  setObserver(observer: McpCallObserver | undefined): void {
    this.observer = observer;
  }

  get size(): number {
    return this.connections.size;
  }

  /** Resolves once every server has had its first connection attempt. */
  async start(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.firstAttempt));
  }

  /** Adds a readiness check per server (failing while it is unreachable, unless `required: false`). */
  registerHealthChecks(health: HealthChecker): void {
    for (const c of this.connections.values()) {
      health.register('readiness', `mcp_${c.name}`, () => c.healthCheck(), {
        critical: c.config.required,
      });
    }
  }

  server(name: string): McpServerConnection | undefined {
    return this.connections.get(name);
  }

  /** The current tools of these servers (all servers when omitted), in config order. */
  tools(servers?: readonly string[]): McpTool[] {
    const names = servers ?? [...this.connections.keys()];
    return names.flatMap((n) => this.connections.get(n)?.tools ?? []);
  }

  /**
   * The tools an agent offers: those of `servers`, only the `allow`ed ones when given
   * (names, or `server/name`), each with an id unique among them: the tool's name, or
   * `server__name` when two of the servers share it.
   */
  select(servers: readonly string[], allow?: readonly string[]): SelectedTool[] {
    const tools = this.tools(servers).filter(
      (t) => !allow || allow.includes(t.name) || allow.includes(`${t.server}/${t.name}`),
    );
    const count = new Map<string, number>();
    for (const t of tools) count.set(t.name, (count.get(t.name) ?? 0) + 1);
    return tools.map((tool) => ({
      id: (count.get(tool.name) ?? 0) > 1 ? `${tool.server}__${tool.name}` : tool.name,
      tool,
    }));
  }

  /** Called with the server's name whenever its tool list changes. Returns an unsubscribe. */
  onToolsChanged(listener: (server: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options?: ToolCallOptions,
  ): Promise<CallToolResult> {
    const connection = this.connections.get(server);
    if (!connection) return Promise.reject(err('MCP_TOOL_NOT_FOUND', `No MCP server "${server}" configured`));
    return connection.callTool(tool, args, options);
  }

  status(): McpServerStatus[] {
    return [...this.connections.values()].map((c) => ({
      name: c.name,
      transport: c.config.transport,
      state: c.state,
      circuit: c.circuit,
      required: c.config.required,
      tools: c.tools.map((t) => t.name),
      ...(c.lastError && c.state !== 'ready' ? { error: c.lastError } : {}),
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.close()));
  }
}
