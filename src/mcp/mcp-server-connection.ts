import { Client, type CallToolResult, type Tool, type Transport } from '@modelcontextprotocol/client';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import type { CircuitBreakerPolicy } from 'cockatiel';
import type { Logger } from 'pino';
import type { McpConfig, McpServerConfig } from '../config/schema.js';
import { type AgentdError, err } from '../errors.js';
import { SpanKind, Tracing } from '../observability/tracing.js';
import { VERSION } from '../version.js';
import {
  classifyCallError,
  circuitOf,
  createServerBreaker,
  isTransportFailure,
  statusOf,
  traceMeta,
  type McpCallObserver,
  type McpCallStatus,
  type ToolCallOptions,
} from './mcp-server-call.js';
import { compileTools, toolsChanged, type McpTool } from './mcp-server-tools.js';
import { describeConnectError, makeTransport, reconnectDelay, transportPid } from './mcp-server-transport.js';

export type { McpCallObserver, McpCallStatus, ToolCallOptions } from './mcp-server-call.js';
export { friendlySchemaError, type McpTool } from './mcp-server-tools.js';

export type McpServerState = 'connecting' | 'ready' | 'down' | 'closed';

export interface ConnectionDeps {
  readonly logger: Logger;
  readonly tracing: Tracing;
  readonly observer: McpCallObserver | undefined;
  readonly defaults: Omit<McpConfig, 'servers' | 'endpoint'>;
  /** Directory relative `cwd` and secret files resolve against (the config file's). */
  readonly baseDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Told when this server's tool list changed (connected, refreshed, or lost). */
  readonly onToolsChanged: () => void;
}

/**
 * One configured MCP server: the official client over stdio or Streamable HTTP, kept
 * connected. It connects with retries and exponential backoff (forever, in the
 * background), restarts a stdio server that exits, re-lists tools on `list_changed`, and
 * pings an idle connection so a dead HTTP server is noticed. Calls go through a
 * consecutive-failure circuit breaker, carry a timeout and the caller's abort signal, are
 * validated against the tool's input schema first, and are counted, timed and traced.
 */
export class McpServerConnection {
  private client: Client | undefined;
  private transport: Transport | undefined;
  private stateValue: McpServerState = 'connecting';
  private lastErrorValue: string | undefined;
  private toolsByName = new Map<string, McpTool>();
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private connecting: Promise<void> | undefined;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly validator = new AjvJsonSchemaValidator();
  private readonly timeoutMs: number;
  /** Resolves after the first connection attempt, whatever its outcome. */
  readonly firstAttempt: Promise<void>;

  constructor(
    readonly config: McpServerConfig,
    private readonly deps: ConnectionDeps,
  ) {
    this.timeoutMs = (config.timeoutSeconds ?? deps.defaults.timeoutSeconds) * 1000;
    this.breaker = createServerBreaker(config.name, deps.defaults.breaker, deps.logger);
    this.firstAttempt = this.connect();
  }

  get name(): string {
    return this.config.name;
  }

  get state(): McpServerState {
    return this.stateValue;
  }

  /** Why the server is not ready (the last connection or call failure). */
  get lastError(): string | undefined {
    return this.lastErrorValue;
  }

  /** `closed`, `open` or `half-open`. */
  get circuit(): 'closed' | 'open' | 'half-open' {
    return circuitOf(this.breaker);
  }

  /** The stdio server's process id (while it runs). */
  get pid(): number | undefined {
    return transportPid(this.transport);
  }

  get tools(): readonly McpTool[] {
    return [...this.toolsByName.values()];
  }

  tool(name: string): McpTool | undefined {
    return this.toolsByName.get(name);
  }

  /** A readiness check: throws while the server is not connected, saying why. */
  healthCheck(): void {
    if (this.stateValue === 'ready') return;
    throw new Error(
      `MCP server "${this.name}" is ${this.stateValue === 'connecting' ? 'connecting' : 'unreachable'}` +
        (this.lastErrorValue ? `: ${this.lastErrorValue}` : '') +
        (this.retryTimer ? ' (reconnecting with backoff)' : ''),
    );
  }

  /**
   * Calls a tool. Throws a catalogue error (`MCP_*`) for every failure but a tool's own
   * error result (`isError`), which is returned as is.
   */
  async callTool(
    toolName: string,
    args: Record<string, unknown>,
    options: ToolCallOptions = {},
  ): Promise<CallToolResult> {
    const started = performance.now();
    const known = this.toolsByName.get(toolName);
    const label = known ? toolName : 'unknown';
    const observe = (status: McpCallStatus): void =>
      this.deps.observer?.mcpToolCall(this.name, label, status, (performance.now() - started) / 1000);
    if (!known) {
      observe('invalid_arguments');
      if (this.stateValue !== 'ready') throw this.unavailable();
      throw err(
        'MCP_TOOL_NOT_FOUND',
        `MCP server "${this.name}" has no tool "${toolName}" (tools: ${[...this.toolsByName.keys()].join(', ') || 'none'})`,
        { server: this.name, tool: toolName },
      );
    }
    const problem = known.check(args);
    if (problem !== undefined) {
      observe('invalid_arguments');
      throw err('MCP_INVALID_ARGUMENTS', `Tool "${toolName}": ${problem}`, {
        server: this.name,
        tool: toolName,
      });
    }
    const traced = this.deps.tracing.start(
      `MCP tools/call ${toolName}`,
      SpanKind.CLIENT,
      options.traceContext,
      {
        'rpc.system': 'mcp',
        'rpc.method': 'tools/call',
        'mcp.server': this.name,
        'mcp.tool': toolName,
      },
    );
    const meta = traceMeta(this.deps.tracing, traced?.context);
    try {
      const result = await this.breaker.execute(
        () => this.send(toolName, args, meta, options),
        options.signal,
      );
      observe(result.isError ? 'tool_error' : 'success');
      Tracing.end(traced, result.isError ? 'tool returned an error' : undefined);
      return result;
    } catch (error) {
      const e = this.classify(error, toolName, options.signal);
      observe(statusOf(e));
      Tracing.end(traced, e.message);
      throw e;
    }
  }

  private async send(
    toolName: string,
    args: Record<string, unknown>,
    meta: Record<string, string>,
    options: ToolCallOptions,
  ): Promise<CallToolResult> {
    const client = this.client;
    if (!client || this.stateValue !== 'ready') throw this.unavailable();
    try {
      return await client.callTool(
        { name: toolName, arguments: args, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) },
        {
          timeout: this.timeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress
            ? {
                onprogress: (p: { progress: number; total?: number; message?: string }) =>
                  options.onProgress?.(p),
              }
            : {}),
        },
      );
    } catch (error) {
      // A transport failure on HTTP (refused, reset) leaves the client "connected": find out.
      if (isTransportFailure(error) && this.client === client) this.lost(client, error as Error);
      throw error;
    }
  }

  /** Maps whatever a call threw to the catalogue, with a message that says what happened. */
  private classify(error: unknown, toolName: string, signal: AbortSignal | undefined): AgentdError {
    return classifyCallError(error, toolName, signal, {
      server: this.name,
      transport: this.config.transport,
      breaker: this.deps.defaults.breaker,
      timeoutMs: this.timeoutMs,
      lastError: this.lastErrorValue,
    });
  }

  private unavailable(): AgentdError {
    return err(
      'MCP_SERVER_UNAVAILABLE',
      `MCP server "${this.name}" is not connected` +
        (this.lastErrorValue ? ` (${this.lastErrorValue})` : '') +
        '; agentd keeps reconnecting with backoff',
      { server: this.name },
    );
  }

  /** One connection attempt; on failure the next is scheduled with backoff. */
  private connect(): Promise<void> {
    this.connecting ??= this.tryConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async tryConnect(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.stateValue = this.attempt === 0 ? 'connecting' : this.stateValue;
    this.attempt += 1;
    const client = new Client(
      { name: 'agentd', version: VERSION },
      {
        listChanged: {
          tools: {
            onChanged: (error, tools) => {
              if (this.client !== client) return;
              if (error) {
                this.deps.logger.warn({ mcp_server: this.name, err: error }, 'MCP tools refresh failed');
                return;
              }
              if (tools) this.setTools(tools);
            },
          },
        },
      },
    );
    let transport: Transport | undefined;
    const timeoutMs = this.deps.defaults.connectTimeoutSeconds * 1000;
    try {
      transport = makeTransport(this.config, this.deps.baseDir, this.deps.env);
      await client.connect(transport, { timeout: timeoutMs });
      const { tools } = await client.listTools(undefined, { timeout: timeoutMs });
      if ((this.stateValue as McpServerState) === 'closed') {
        await client.close().catch(() => {});
        return;
      }
      this.client = client;
      this.transport = transport;
      client.onclose = () => this.lost(client, new Error('connection closed'));
      client.onerror = (error) =>
        this.deps.logger.debug({ mcp_server: this.name, err: error }, 'MCP transport error');
      this.stateValue = 'ready';
      this.lastErrorValue = undefined;
      this.deps.logger.info(
        { mcp_server: this.name, tools: tools.length, attempt: this.attempt, pid: this.pid },
        'MCP server connected',
      );
      this.attempt = 0;
      this.setTools(tools);
      this.schedulePing();
    } catch (error) {
      await client.close().catch(() => {});
      const message = describeConnectError(error, this.config);
      this.lastErrorValue = message;
      this.stateValue = 'down';
      this.retryLater(`MCP server "${this.name}" unavailable: ${message}`);
    }
  }

  /** The connection is gone (process exited, HTTP server unreachable): mark down, reconnect. */
  private lost(client: Client, reason: Error): void {
    if (this.client !== client || this.stateValue === 'closed') return;
    this.client = undefined;
    this.transport = undefined;
    clearTimeout(this.pingTimer);
    this.stateValue = 'down';
    this.lastErrorValue =
      this.config.transport === 'stdio' ? `server process exited (${reason.message})` : reason.message;
    this.setTools([]);
    void client.close().catch(() => {});
    this.retryLater(`MCP server "${this.name}" lost: ${this.lastErrorValue}; reconnecting`);
  }

  /** Logs why, and schedules the next connection attempt after the backoff. */
  private retryLater(message: string): void {
    const delay = reconnectDelay(this.attempt, this.deps.defaults);
    this.deps.logger.warn({ mcp_server: this.name, attempt: this.attempt, retry_in_ms: delay }, message);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private schedulePing(): void {
    const every = this.deps.defaults.pingIntervalSeconds * 1000;
    if (every <= 0) return;
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      const client = this.client;
      if (!client) return;
      client
        .ping({ timeout: Math.min(every, 5000) })
        .then(() => this.schedulePing())
        .catch((error: unknown) => this.lost(client, new Error(`ping failed: ${(error as Error).message}`)));
    }, every);
    this.pingTimer.unref();
  }

  private setTools(tools: readonly Tool[]): void {
    const next = compileTools(this.name, tools, this.validator, this.deps.logger);
    const changed = toolsChanged(this.toolsByName, next);
    this.toolsByName = next;
    if (changed) {
      this.deps.logger.debug({ mcp_server: this.name, tools: [...next.keys()] }, 'MCP tools listed');
      this.deps.onToolsChanged();
    }
  }

  /** Stops reconnecting and closes the connection (a stdio server gets its stdin closed, then a signal). */
  async close(): Promise<void> {
    this.stateValue = 'closed';
    clearTimeout(this.retryTimer);
    clearTimeout(this.pingTimer);
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => {});
  }
}
