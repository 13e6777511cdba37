import {
  Client,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport,
  TRACEPARENT_META_KEY,
  TRACESTATE_META_KEY,
  type CallToolResult,
  type Tool,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import type { Context } from '@opentelemetry/api';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { McpConfig, McpServerConfig } from '../config/schema.js';
import { describeSecret, readSecret } from '../config/secrets.js';
import { AgentdError, err } from '../errors.js';
import { SpanKind, Tracing } from '../observability/tracing.js';
import { VERSION } from '../version.js';

/** A tool of a connected MCP server, with its compiled input validator. */
export interface McpTool {
  readonly server: string;
  readonly name: string;
  readonly definition: Tool;
  /** Checks arguments against the tool's input schema; returns the problem, or undefined. */
  readonly check: (args: Record<string, unknown>) => string | undefined;
}

export type McpServerState = 'connecting' | 'ready' | 'down' | 'closed';

/** A tool call's outcome, as the `status` label of `mcp_tool_calls_total`. */
export type McpCallStatus =
  'success' | 'tool_error' | 'invalid_arguments' | 'timeout' | 'canceled' | 'unavailable' | 'error';

export interface McpCallObserver {
  mcpToolCall(server: string, tool: string, status: McpCallStatus, seconds: number): void;
}

export interface ToolCallOptions {
  /** Aborts the call: the server gets `notifications/cancelled`. */
  readonly signal?: AbortSignal | undefined;
  /** Progress notifications the server sends for this call. */
  readonly onProgress?: ((p: { progress: number; total?: number; message?: string }) => void) | undefined;
  /** The calling task's trace context: the call is a client span under it. */
  readonly traceContext?: Context | undefined;
}

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
    this.breaker = circuitBreaker(
      handleWhen((e) => countsAgainstServer(e)),
      {
        halfOpenAfter: deps.defaults.breaker.halfOpenAfterSeconds * 1000,
        breaker: new ConsecutiveBreaker(deps.defaults.breaker.failures),
      },
    );
    this.breaker.onBreak(() =>
      deps.logger.warn(
        { mcp_server: config.name, failures: deps.defaults.breaker.failures },
        'MCP server circuit opened: calls fail fast until it half-opens',
      ),
    );
    this.breaker.onReset(() => deps.logger.info({ mcp_server: config.name }, 'MCP server circuit closed'));
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
    const s = this.breaker.state;
    return s === CircuitState.Open || s === CircuitState.Isolated
      ? 'open'
      : s === CircuitState.HalfOpen
        ? 'half-open'
        : 'closed';
  }

  /** The stdio server's process id (while it runs). */
  get pid(): number | undefined {
    return this.transport instanceof StdioClientTransport ? (this.transport.pid ?? undefined) : undefined;
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
    const carrier: Record<string, string> = {};
    this.deps.tracing.inject(traced?.context, carrier);
    const meta: Record<string, string> = {};
    if (carrier.traceparent) meta[TRACEPARENT_META_KEY] = carrier.traceparent;
    if (carrier.tracestate) meta[TRACESTATE_META_KEY] = carrier.tracestate;
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
    if (error instanceof AgentdError) return error;
    const data = { server: this.name, tool: toolName };
    if (error instanceof BrokenCircuitError) {
      return err(
        'MCP_SERVER_UNAVAILABLE',
        `MCP server "${this.name}" is failing: its circuit breaker opened after ` +
          `${this.deps.defaults.breaker.failures} consecutive failed calls and lets a call through again ` +
          `${this.deps.defaults.breaker.halfOpenAfterSeconds} s after opening` +
          (this.lastErrorValue ? ` (last failure: ${this.lastErrorValue})` : ''),
        data,
      );
    }
    if (signal?.aborted)
      return err('MCP_CALL_FAILED', `Tool "${toolName}" call was canceled`, { ...data, canceled: 'true' });
    if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
      return err(
        'MCP_TIMEOUT',
        `Tool "${toolName}" on MCP server "${this.name}" did not answer within ${this.timeoutMs / 1000} s`,
        data,
      );
    }
    if (error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed) {
      return err(
        'MCP_CALL_FAILED',
        `MCP server "${this.name}" closed the connection during the call to "${toolName}"` +
          (this.config.transport === 'stdio' ? ' (the server process exited; it is being restarted)' : ''),
        data,
      );
    }
    if (error instanceof ProtocolError) {
      return err('MCP_TOOL_ERROR', `Tool "${toolName}" on MCP server "${this.name}": ${error.message}`, data);
    }
    return err(
      'MCP_CALL_FAILED',
      `Call to tool "${toolName}" on MCP server "${this.name}" failed: ${(error as Error).message}`,
      data,
    );
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
      transport = this.makeTransport();
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
    const delay = this.backoff();
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

  private backoff(): number {
    const { reconnectBaseMs, reconnectMaxMs } = this.deps.defaults;
    const exp = Math.min(reconnectMaxMs, reconnectBaseMs * 2 ** Math.max(0, this.attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }

  private setTools(tools: readonly Tool[]): void {
    const next = new Map<string, McpTool>();
    for (const t of tools) {
      let validate: ((a: unknown) => { valid: boolean; errorMessage?: string | undefined }) | undefined;
      try {
        validate = this.validator.getValidator(t.inputSchema as never);
      } catch (error) {
        this.deps.logger.warn(
          { mcp_server: this.name, tool: t.name, err: error },
          'MCP tool input schema does not compile; its arguments are not validated locally',
        );
      }
      next.set(t.name, {
        server: this.name,
        name: t.name,
        definition: t,
        check: (args) => {
          const r = validate?.(args);
          return r && !r.valid ? friendlySchemaError(r.errorMessage ?? 'invalid arguments') : undefined;
        },
      });
    }
    const changed =
      next.size !== this.toolsByName.size ||
      [...next.values()].some((t) => {
        const old = this.toolsByName.get(t.name)?.definition;
        return !old || JSON.stringify(old) !== JSON.stringify(t.definition);
      });
    this.toolsByName = next;
    if (changed) {
      this.deps.logger.debug({ mcp_server: this.name, tools: [...next.keys()] }, 'MCP tools listed');
      this.deps.onToolsChanged();
    }
  }

  private makeTransport(): Transport {
    const c = this.config;
    if (c.transport === 'stdio') {
      const env: Record<string, string> = { ...getDefaultEnvironment() };
      for (const [key, ref] of Object.entries(c.env)) {
        const value = readSecret(ref, this.deps.baseDir, this.deps.env);
        if (value === undefined) throw new Error(`env ${key}: ${describeSecret(ref)} is not set`);
        env[key] = value;
      }
      const cwd =
        c.cwd === undefined
          ? this.deps.baseDir
          : isAbsolute(c.cwd)
            ? c.cwd
            : resolve(this.deps.baseDir, c.cwd);
      // spawn reports a missing cwd as ENOENT, which would read as "command not found".
      if (!existsSync(cwd)) throw new Error(`working directory ${cwd} does not exist`);
      return new StdioClientTransport({
        command: c.command === 'node' ? process.execPath : c.command,
        args: c.args,
        env,
        cwd,
        // The server's stderr is its log: pass it through, as MCP hosts do.
        stderr: 'inherit',
      });
    }
    const headers: Record<string, string> = {};
    for (const [key, ref] of Object.entries(c.headers)) {
      const value = readSecret(ref, this.deps.baseDir, this.deps.env);
      if (value === undefined) throw new Error(`header ${key}: ${describeSecret(ref)} is not set`);
      headers[key] = value;
    }
    if (c.bearerToken !== undefined) {
      const token = readSecret(c.bearerToken, this.deps.baseDir, this.deps.env);
      if (token === undefined) throw new Error(`bearerToken: ${describeSecret(c.bearerToken)} is not set`);
      headers.authorization = `Bearer ${token}`;
    }
    return new StreamableHTTPClientTransport(new URL(c.url), { requestInit: { headers } });
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

/** Failures that say something about the server (count toward its breaker). */
function countsAgainstServer(error: unknown): boolean {
  if (error instanceof AgentdError) return error.code === 'MCP_SERVER_UNAVAILABLE';
  if (error instanceof ProtocolError) return false;
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) return true;
  if ((error as Error | undefined)?.name === 'AbortError') return false;
  return true;
}

function isTransportFailure(error: unknown): boolean {
  if (error instanceof ProtocolError || error instanceof AgentdError) return false;
  if (error instanceof SdkError)
    return error.code === SdkErrorCode.SendFailed || error.code === SdkErrorCode.ConnectionClosed;
  return error instanceof TypeError; // fetch failed: refused, reset, DNS
}

function statusOf(e: AgentdError): McpCallStatus {
  switch (e.code) {
    case 'MCP_TIMEOUT':
      return 'timeout';
    case 'MCP_SERVER_UNAVAILABLE':
      return 'unavailable';
    case 'MCP_TOOL_ERROR':
      return 'tool_error';
    case 'MCP_INVALID_ARGUMENTS':
    case 'MCP_TOOL_NOT_FOUND':
      return 'invalid_arguments';
    default:
      return e.data?.canceled === 'true' ? 'canceled' : 'error';
  }
}

function describeConnectError(error: unknown, config: McpServerConfig): string {
  const e = error as Error & { code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  if (config.transport === 'stdio' && code === 'ENOENT') return `command not found: ${config.command}`;
  if (config.transport === 'http' && (code === 'ECONNREFUSED' || e.message === 'fetch failed'))
    return `cannot reach ${config.url} (${code ?? e.message})`;
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout)
    return 'no answer to the MCP handshake in time';
  if (error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed)
    return config.transport === 'stdio'
      ? 'the server process exited during the handshake'
      : 'connection closed';
  return e.message;
}

/** Ajv's "data/a must be number, data must have required property 'b'" as "argument "a" must be number; ...". */
export function friendlySchemaError(message: string): string {
  return message
    .split(/,\s(?=data|\/)/)
    .map((m) =>
      m
        .replace(/^data must have required property '([^']+)'/, 'missing required argument "$1"')
        .replace(/^data\/([^\s]+) /, (_, path: string) => `argument "${path.replace(/\//g, '.')}" `)
        .replace(/^data /, 'arguments '),
    )
    .join('; ');
}
