import {
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/client/stdio';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { McpConfig, McpServerConfig } from '../config/schema.js';
import { describeSecret, readSecret } from '../config/secrets.js';

/**
 * The client transport for one configured server: a stdio child process (its env secrets
 * resolved, its cwd relative to `baseDir`) or Streamable HTTP (headers and bearer token
 * resolved). Throws, saying which setting, when a secret is missing or the cwd does not exist.
 */
export function makeTransport(c: McpServerConfig, baseDir: string, processEnv: NodeJS.ProcessEnv): Transport {
  if (c.transport === 'stdio') {
    const env: Record<string, string> = { ...getDefaultEnvironment() };
    for (const [key, ref] of Object.entries(c.env)) {
      const value = readSecret(ref, baseDir, processEnv);
      if (value === undefined) throw new Error(`env ${key}: ${describeSecret(ref)} is not set`);
      env[key] = value;
    }
    const cwd = c.cwd === undefined ? baseDir : isAbsolute(c.cwd) ? c.cwd : resolve(baseDir, c.cwd);
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
    const value = readSecret(ref, baseDir, processEnv);
    if (value === undefined) throw new Error(`header ${key}: ${describeSecret(ref)} is not set`);
    headers[key] = value;
  }
  if (c.bearerToken !== undefined) {
    const token = readSecret(c.bearerToken, baseDir, processEnv);
    if (token === undefined) throw new Error(`bearerToken: ${describeSecret(c.bearerToken)} is not set`);
    headers.authorization = `Bearer ${token}`;
  }
  return new StreamableHTTPClientTransport(new URL(c.url), { requestInit: { headers } });
}

/** The stdio server's process id, if the transport is a running stdio child. */
export function transportPid(transport: Transport | undefined): number | undefined {
  return transport instanceof StdioClientTransport ? (transport.pid ?? undefined) : undefined;
}

/**
 * The delay before reconnect attempt `attempt` (1-based count of attempts made): exponential
 * from `reconnectBaseMs`, capped at `reconnectMaxMs`, with jitter over its upper half.
 */
export function reconnectDelay(
  attempt: number,
  { reconnectBaseMs, reconnectMaxMs }: Pick<McpConfig, 'reconnectBaseMs' | 'reconnectMaxMs'>,
): number {
  const exp = Math.min(reconnectMaxMs, reconnectBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Why a connection attempt failed, in the words an operator needs (not the raw errno). */
export function describeConnectError(error: unknown, config: McpServerConfig): string {
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
