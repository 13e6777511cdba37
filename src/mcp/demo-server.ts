/**
 * agentd's demo MCP server: four small tools that do real work (`time_now`, `calculate`,
 * `fetch_url`, `sleep`), served on stdio by `agentd mcp-demo-server` so the default config can
 * back a `tools` agent with a real MCP server. On stdio, stdout is the protocol channel: nothing
 * here writes to it except the transport; diagnostics go to stderr.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { TextDecoder } from 'node:util';
import { McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { VERSION } from '../version.js';
import { CalcError, evaluate, MAX_EXPRESSION_LENGTH } from './calculator.js';

/** What `createDemoMcpServer` needs; only `fetchAllow` has no default. */
export interface DemoMcpServerOptions {
  /**
   * Hosts `fetch_url` may reach: exact host names (`example.com`, `127.0.0.1`, `[::1]`) or
   * `*.example.com` for any subdomain of example.com (not example.com itself). Ports are not
   * part of an entry. Empty: fetching is disabled.
   */
  fetchAllow: string[];
  /** Budget for one `fetch_url` call, redirects and body included (default 10 s). */
  fetchTimeoutMs?: number;
  /** Most body bytes `fetch_url` reads; the rest is cut off with a note (default 100 KiB). */
  fetchMaxBytes?: number;
}

/** The environment variable that holds the `fetch_url` allow-list (comma-separated). */
export const FETCH_ALLOW_ENV = 'AGENTD_FETCH_ALLOW';

const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
const DEFAULT_FETCH_MAX_BYTES = 100 * 1024;
const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_SLEEP_SECONDS = 600;

/**
 * Parses a comma-separated allow-list (`--fetch-allow`, `AGENTD_FETCH_ALLOW`) into lower-case
 * entries. Throws an `Error` naming the first entry that is not a host name or `*.domain`
 * (a URL, a path or a port is a mistake worth reporting, not silently ignoring).
 */
export function parseFetchAllow(value: string): string[] {
  const entries = value
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e.length > 0);
  for (const entry of entries) {
    const host = entry.startsWith('*.') ? entry.slice(2) : entry;
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(\.[a-z0-9_-]+)*)$/.test(host))
      throw new Error(
        `"${entry}" is not a host name: use e.g. example.com, *.example.com or 127.0.0.1 (no scheme, port or path)`,
      );
  }
  return entries;
}

function hostAllowed(hostname: string, allow: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return allow.some((entry) => (entry.startsWith('*.') ? host.endsWith(entry.slice(1)) : host === entry));
}

/** Builds the demo server with its four tools registered; connect it to any transport. */
export function createDemoMcpServer(options: DemoMcpServerOptions): McpServer {
  const fetchTimeoutMs = options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const fetchMaxBytes = options.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES;
  const server = new McpServer(
    { name: 'agentd-demo', title: 'agentd demo tools', version: VERSION },
    {
      instructions:
        'Demo tools: the current time in any IANA time zone, arithmetic, HTTP GET of allow-listed hosts, and a cancellable sleep that reports progress.',
    },
  );

  server.registerTool(
    'time_now',
    {
      title: 'Current time',
      description:
        'The current date and time in an IANA time zone, as ISO 8601 with the zone offset and as readable text.',
      inputSchema: z.object({
        timezone: z
          .string()
          .default('UTC')
          .describe('IANA time zone name, e.g. "Europe/Paris" or "America/New_York" (default "UTC")'),
      }),
      outputSchema: z.object({
        timezone: z.string().describe('the time zone, as requested'),
        iso: z.string().describe('local time in ISO 8601 with the zone offset'),
        utc: z.string().describe('the same instant in UTC, ISO 8601'),
        formatted: z.string().describe('human-readable local date and time'),
        epochMs: z.number().describe('milliseconds since the Unix epoch'),
      }),
      annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: false },
    },
    ({ timezone }) => {
      let formatter: Intl.DateTimeFormat;
      try {
        formatter = new Intl.DateTimeFormat('en-US', {
          timeZone: timezone,
          dateStyle: 'full',
          timeStyle: 'long',
        });
      } catch {
        return toolError(
          `unknown time zone "${timezone}": use an IANA name such as "UTC", "Europe/Paris" or "America/New_York"`,
        );
      }
      const now = new Date();
      const out = {
        timezone,
        iso: zonedIso(now, timezone),
        utc: now.toISOString(),
        formatted: formatter.format(now),
        epochMs: now.getTime(),
      };
      return { content: [text(`${out.formatted} (${out.iso}, ${timezone})`)], structuredContent: out };
    },
  );

  server.registerTool(
    'calculate',
    {
      title: 'Calculator',
      description:
        'Evaluates an arithmetic expression in double precision: numbers (1.5, 2e-3), + - * / % ^ (power, right-associative), unary minus, parentheses, the functions sqrt, abs, round, floor, ceil, min, max and the constants pi and e.',
      inputSchema: z.object({
        expression: z
          .string()
          .min(1)
          .max(MAX_EXPRESSION_LENGTH)
          .describe('the expression, e.g. "(2 + 3) * sqrt(16) / 2^3"'),
      }),
      outputSchema: z.object({
        expression: z.string().describe('the expression as given'),
        result: z.number().describe('its value'),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ expression }) => {
      try {
        const result = evaluate(expression);
        return { content: [text(`${expression} = ${result}`)], structuredContent: { expression, result } };
      } catch (error) {
        if (!(error instanceof CalcError)) throw error;
        return toolError(
          `cannot evaluate: ${error.message} at position ${error.position + 1}\n  ${expression}\n  ${' '.repeat(error.position)}^`,
        );
      }
    },
  );

  server.registerTool(
    'fetch_url',
    {
      title: 'Fetch a URL',
      description: `HTTP GET of an http(s) URL whose host is on the server's allow-list (${
        options.fetchAllow.length > 0 ? options.fetchAllow.join(', ') : 'empty: fetching is disabled'
      }). Follows up to ${MAX_REDIRECTS} redirects, each checked against the allow-list. Returns the status, the content type and the body as text for text and JSON (a size summary for binary), cut at ${fetchMaxBytes} bytes.`,
      inputSchema: z.object({
        url: z.string().describe('absolute http:// or https:// URL on an allow-listed host'),
        maxBytes: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe(`most body bytes to return (default and upper bound: ${fetchMaxBytes})`),
      }),
      outputSchema: z.object({
        url: z.string().describe('the URL finally fetched, after redirects'),
        redirects: z.array(z.string()).describe('the URLs redirected through, in order'),
        status: z.number().describe('HTTP status code'),
        contentType: z.string().describe('the Content-Type header ("" when absent)'),
        bytes: z.number().describe('body bytes read'),
        truncated: z.boolean().describe('true when the body was longer than the limit and cut'),
        text: z.string().optional().describe('the body, for text and JSON content types'),
      }),
      annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: true },
    },
    ({ url, maxBytes }, ctx) =>
      fetchUrl(url, {
        allow: options.fetchAllow,
        timeoutMs: fetchTimeoutMs,
        maxBytes: Math.min(maxBytes ?? fetchMaxBytes, fetchMaxBytes),
        signal: ctx.mcpReq.signal,
      }),
  );

  server.registerTool(
    'sleep',
    {
      title: 'Sleep',
      description:
        'Waits the given number of seconds, reporting progress as each second starts (0, 1, 2, ...) when the caller asks for progress. Stops as soon as the call is cancelled. For trying out streaming progress, timeouts and cancellation.',
      inputSchema: z.object({
        seconds: z
          .number()
          .min(0)
          .max(MAX_SLEEP_SECONDS)
          .describe(`how long to wait, 0-${MAX_SLEEP_SECONDS} seconds`),
      }),
      outputSchema: z.object({ slept: z.number().describe('seconds waited') }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ seconds }, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      const started = Date.now();
      // Progress goes out as each second starts (0, 1, ...), never at the end: the result reports
      // completion, and a notification written just before it may reach a client that has
      // already settled the call. Steps are timed from the start so timer overhead does not add up.
      for (let step = 0; step < seconds; step++) {
        if (progressToken !== undefined)
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: {
              progressToken,
              progress: step,
              total: seconds,
              message: `slept ${step} of ${seconds} s`,
            },
          });
        const wait = started + Math.min(step + 1, seconds) * 1000 - Date.now();
        try {
          if (wait > 0) await delay(wait, undefined, { signal: ctx.mcpReq.signal });
        } catch (error) {
          if (ctx.mcpReq.signal.aborted)
            return toolError(`sleep cancelled after ${((Date.now() - started) / 1000).toFixed(1)} s`);
          throw error;
        }
      }
      return { content: [text(`slept ${seconds} s`)], structuredContent: { slept: seconds } };
    },
  );

  return server;
}

/**
 * Serves the demo server on this process's stdin/stdout (both protocol eras, one instance per
 * connection) and resolves when the connection closes, normally because stdin ended.
 * Out-of-band errors are written to stderr.
 */
export async function runDemoMcpServerStdio(options: DemoMcpServerOptions): Promise<void> {
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  // The serving entry owns the transport's callbacks; overriding close() is how we learn that
  // the connection is over, whichever side ended it.
  const transport = new (class extends StdioServerTransport {
    override async close(): Promise<void> {
      await super.close();
      closed();
    }
  })();
  serveStdio(() => createDemoMcpServer(options), {
    transport,
    onerror: (error) => void process.stderr.write(`agentd mcp-demo-server: ${error.message}\n`),
  });
  await done;
}

function text(s: string): { type: 'text'; text: string } {
  return { type: 'text', text: s };
}

function toolError(message: string): CallToolResult {
  return { content: [text(message)], isError: true };
}

/** `now` as ISO 8601 local time in `timeZone` with its offset, e.g. 2025-01-02T15:04:05.123+05:30. */
function zonedIso(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'longOffset',
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes): string =>
    parts.find((p) => p.type === type)?.value ?? '';
  const offset = part('timeZoneName').replace('GMT', '') || '+00:00';
  const ms = String(now.getUTCMilliseconds()).padStart(3, '0');
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}.${ms}${offset}`;
}

// ---- fetch_url ----

interface FetchLimits {
  readonly allow: readonly string[];
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly signal: AbortSignal;
}

async function fetchUrl(input: string, limits: FetchLimits): Promise<CallToolResult> {
  if (limits.allow.length === 0)
    return toolError(
      `fetching is disabled: no host is allowed. Start the server with --fetch-allow example.com,*.example.org (or set ${FETCH_ALLOW_ENV}) to allow hosts.`,
    );
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return toolError(`"${input}" is not an absolute URL (expected e.g. https://example.com/page)`);
  }
  const redirects: string[] = [];
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = AbortSignal.any([limits.signal, timeout]);
  try {
    for (;;) {
      const refusal = refuse(url, limits.allow);
      if (refusal)
        return toolError(redirects.length > 0 ? `redirect to ${url.href} refused: ${refusal}` : refusal);
      const response = await fetch(url, {
        method: 'GET',
        redirect: 'manual',
        signal,
        headers: { 'user-agent': `agentd-demo-mcp/${VERSION}` },
      });
      const location = response.headers.get('location');
      if (REDIRECT_STATUSES.has(response.status) && location !== null) {
        await response.body?.cancel();
        if (redirects.length === MAX_REDIRECTS)
          return toolError(`too many redirects (more than ${MAX_REDIRECTS}) starting at ${input}`);
        redirects.push(url.href);
        url = new URL(location, url);
        continue;
      }
      return await describeResponse(url, redirects, response, limits.maxBytes);
    }
  } catch (error) {
    if (timeout.aborted) return toolError(`timed out after ${limits.timeoutMs} ms fetching ${url.href}`);
    if (limits.signal.aborted) return toolError('fetch cancelled');
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return toolError(`fetching ${url.href} failed: ${(error as Error).message}${cause ? ` (${cause})` : ''}`);
  }
}

/** Why `url` may not be fetched, or undefined when it may. */
function refuse(url: URL, allow: readonly string[]): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `only http and https URLs can be fetched, not ${url.protocol.slice(0, -1)}`;
  if (!hostAllowed(url.hostname, allow))
    return `host "${url.hostname}" is not on the allow-list (allowed: ${allow.join(', ')})`;
  return undefined;
}

async function describeResponse(
  url: URL,
  redirects: string[],
  response: Response,
  maxBytes: number,
): Promise<CallToolResult> {
  const contentType = response.headers.get('content-type') ?? '';
  const { bytes, truncated } = await readCapped(response, maxBytes);
  const body = isTextual(contentType) ? decode(bytes, contentType) : undefined;
  const head = `GET ${url.href} -> ${response.status} ${response.statusText} (${contentType || 'no content type'}, ${bytes.byteLength} bytes${truncated ? ', truncated' : ''})`;
  const lines = [head];
  if (redirects.length > 0) lines.push(`redirected from: ${redirects.join(' -> ')}`);
  lines.push(body ?? `[binary body: ${bytes.byteLength} bytes${truncated ? ' or more' : ''}, not shown]`);
  if (truncated) lines.push(`[truncated: only the first ${maxBytes} bytes were read]`);
  return {
    content: [text(lines.join('\n'))],
    structuredContent: {
      url: url.href,
      redirects,
      status: response.status,
      contentType,
      bytes: bytes.byteLength,
      truncated,
      ...(body !== undefined && { text: body }),
    },
  };
}

/** Reads at most `max` body bytes; `truncated` when there was more (the rest is not read). */
async function readCapped(
  response: Response,
  max: number,
): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!response.body) return { bytes: new Uint8Array(), truncated: false };
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { bytes: Buffer.concat(chunks, size), truncated: false };
    if (value.byteLength > max - size) {
      chunks.push(value.subarray(0, max - size));
      await reader.cancel();
      return { bytes: Buffer.concat(chunks, max), truncated: true };
    }
    chunks.push(value);
    size += value.byteLength;
  }
}

function isTextual(contentType: string): boolean {
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    /^application\/(json|xml|javascript|x-ndjson)$/.test(type) ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  );
}

function decode(bytes: Uint8Array, contentType: string): string {
  const charset = /charset="?([^";]+)/i.exec(contentType)?.[1];
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8');
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  // stream: true holds back a multi-byte character cut in half by the byte limit.
  return decoder.decode(bytes, { stream: true });
}
