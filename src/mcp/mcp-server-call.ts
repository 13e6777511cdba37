import {
  ProtocolError,
  SdkError,
  SdkErrorCode,
  TRACEPARENT_META_KEY,
  TRACESTATE_META_KEY,
} from '@modelcontextprotocol/client';
import type { Context } from '@opentelemetry/api';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import type { Logger } from 'pino';
import type { McpConfig, McpServerConfig } from '../config/schema.js';
import { AgentdError, err } from '../errors.js';
import type { Tracing } from '../observability/tracing.js';

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

type BreakerConfig = McpConfig['breaker'];

/**
 * A server's consecutive-failure circuit breaker; it counts only failures that say something
 * about the server, and logs when it opens and closes.
 */
export function createServerBreaker(
  server: string,
  config: BreakerConfig,
  logger: Logger,
): CircuitBreakerPolicy {
  const breaker = circuitBreaker(
    handleWhen((e) => countsAgainstServer(e)),
    {
      halfOpenAfter: config.halfOpenAfterSeconds * 1000,
      breaker: new ConsecutiveBreaker(config.failures),
    },
  );
  breaker.onBreak(() =>
    logger.warn(
      { mcp_server: server, failures: config.failures },
      'MCP server circuit opened: calls fail fast until it half-opens',
    ),
  );
  breaker.onReset(() => logger.info({ mcp_server: server }, 'MCP server circuit closed'));
  return breaker;
}

/** The breaker's state as reported in health: `closed`, `open` or `half-open`. */
export function circuitOf(breaker: CircuitBreakerPolicy): 'closed' | 'open' | 'half-open' {
  const s = breaker.state;
  return s === CircuitState.Open || s === CircuitState.Isolated
    ? 'open'
    : s === CircuitState.HalfOpen
      ? 'half-open'
      : 'closed';
}

/** The call's `_meta` trace keys, so the server can continue the caller's trace. */
export function traceMeta(tracing: Tracing, context: Context | undefined): Record<string, string> {
  const carrier: Record<string, string> = {};
  tracing.inject(context, carrier);
  const meta: Record<string, string> = {};
  if (carrier.traceparent) meta[TRACEPARENT_META_KEY] = carrier.traceparent;
  if (carrier.tracestate) meta[TRACESTATE_META_KEY] = carrier.tracestate;
  return meta;
}

/** What `classifyCallError` needs to know about the server to word its message. */
export interface CallErrorContext {
  readonly server: string;
  readonly transport: McpServerConfig['transport'];
  readonly breaker: BreakerConfig;
  readonly timeoutMs: number;
  readonly lastError: string | undefined;
}

/** Maps whatever a call threw to the catalogue, with a message that says what happened. */
export function classifyCallError(
  error: unknown,
  toolName: string,
  signal: AbortSignal | undefined,
  ctx: CallErrorContext,
): AgentdError {
  if (error instanceof AgentdError) return error;
  const data = { server: ctx.server, tool: toolName };
  if (error instanceof BrokenCircuitError) {
    return err(
      'MCP_SERVER_UNAVAILABLE',
      `MCP server "${ctx.server}" is failing: its circuit breaker opened after ` +
        `${ctx.breaker.failures} consecutive failed calls and lets a call through again ` +
        `${ctx.breaker.halfOpenAfterSeconds} s after opening` +
        (ctx.lastError ? ` (last failure: ${ctx.lastError})` : ''),
      data,
    );
  }
  if (signal?.aborted)
    return err('MCP_CALL_FAILED', `Tool "${toolName}" call was canceled`, { ...data, canceled: 'true' });
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
    return err(
      'MCP_TIMEOUT',
      `Tool "${toolName}" on MCP server "${ctx.server}" did not answer within ${ctx.timeoutMs / 1000} s`,
      data,
    );
  }
  if (error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed) {
    return err(
      'MCP_CALL_FAILED',
      `MCP server "${ctx.server}" closed the connection during the call to "${toolName}"` +
        (ctx.transport === 'stdio' ? ' (the server process exited; it is being restarted)' : ''),
      data,
    );
  }
  if (error instanceof ProtocolError) {
    return err('MCP_TOOL_ERROR', `Tool "${toolName}" on MCP server "${ctx.server}": ${error.message}`, data);
  }
  return err(
    'MCP_CALL_FAILED',
    `Call to tool "${toolName}" on MCP server "${ctx.server}" failed: ${(error as Error).message}`,
    data,
  );
}

/** Failures that say something about the server (count toward its breaker). */
function countsAgainstServer(error: unknown): boolean {
  if (error instanceof AgentdError) return error.code === 'MCP_SERVER_UNAVAILABLE';
  if (error instanceof ProtocolError) return false;
  if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) return true;
  if ((error as Error | undefined)?.name === 'AbortError') return false;
  return true;
}

/** A failure of the transport itself (not the tool): the connection may be gone. */
export function isTransportFailure(error: unknown): boolean {
  if (error instanceof ProtocolError || error instanceof AgentdError) return false;
  if (error instanceof SdkError)
    return error.code === SdkErrorCode.SendFailed || error.code === SdkErrorCode.ConnectionClosed;
  return error instanceof TypeError; // fetch failed: refused, reset, DNS
}

/** The `status` label for a call that threw `e`. */
export function statusOf(e: AgentdError): McpCallStatus {
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
