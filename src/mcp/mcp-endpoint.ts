/**
 * `/mcp`: the hosted agents as MCP tools over Streamable HTTP, on the HTTP port. This module
 * is the fastify adapter only: it turns the request into a web `Request` for the MCP SDK's
 * handler (`mcp-endpoint-server.ts`) and streams the web `Response` back, SSE included. The
 * MCP SDK (~25 MB of RSS) is loaded on the first request, so a server nobody asks over MCP
 * never pays for it.
 */
import type { McpHttpHandler } from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import type { HostedAgent } from '../engine/hosted-agent.js';
import type { TaskEngine } from '../engine/task-engine.js';
import { err, type AgentdError } from '../errors.js';
import { disconnectController, UNSUPPORTED_BODY } from '../protocol/http/http-context.js';
import { clientKey, McpCallRegistry } from './mcp-endpoint-cancels.js';
import type { McpRequestOrigin } from './mcp-endpoint-server.js';

/** Where the endpoint is served. */
const MCP_PATH = '/mcp';

export interface McpEndpointDeps {
  readonly engine: TaskEngine;
  /** The agents whose skills are offered as tools (asked on every request). */
  readonly agents: () => readonly HostedAgent[];
  readonly logger: Logger;
  /** Whether the request's caller may use an agent (authentication on); tools of others are hidden. */
  readonly mayUse?: ((request: FastifyRequest, agent: HostedAgent) => boolean) | undefined;
}

/** Headers of the client's connection, not of the request the MCP handler sees (it gets no body). */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

/**
 * Serves MCP (Streamable HTTP) at `POST|GET|DELETE /mcp`: 2026-07-28 clients per request,
 * 2025-era clients statelessly (GET and DELETE, their session operations, get 405). The
 * body is parsed here (the app reads JSON bodies as text), so malformed JSON gets a
 * JSON-RPC parse error; everything else is the MCP SDK's to answer.
 */
export function registerMcpEndpoint(app: FastifyInstance, deps: McpEndpointDeps): void {
  const calls = new McpCallRegistry();
  const origins = new WeakMap<Request, McpRequestOrigin>();
  /** Responses being written (streams included). */
  const sending = new Set<Promise<void>>();
  let loaded: Promise<McpHttpHandler> | undefined;
  const handler = (): Promise<McpHttpHandler> =>
    (loaded ??= import('./mcp-endpoint-server.js').then(
      (m) => m.createAgentdMcpHandler({ ...deps, calls, originOf: (r) => origins.get(r) }),
      (error: unknown) => {
        loaded = undefined;
        throw error;
      },
    ));

  app.route({
    method: ['GET', 'POST', 'DELETE'],
    url: MCP_PATH,
    // Errors raised by fastify itself (body over the limit) are answered as JSON-RPC errors.
    config: { protocol: 'jsonrpc' },
    handler: async (request, reply) => {
      const client = clientKey(request);
      let parsedBody: unknown;
      if (request.method === 'POST' && request.body !== UNSUPPORTED_BODY) {
        // (Any other media type is left to the SDK, which answers 415.)
        const parsed = parseBody(request.body);
        if (!parsed.ok) return sendError(reply, parsed.error);
        parsedBody = parsed.value;
        for (const message of Array.isArray(parsedBody) ? parsedBody : [parsedBody]) {
          const cancelled = cancelledRequestId(message);
          if (cancelled !== undefined && calls.cancel(client, cancelled)) {
            deps.logger.debug({ request_id: request.id, mcp_request: cancelled }, 'MCP tool call cancelled');
          }
        }
      }
      const disconnected = disconnectController(reply);
      const web = toWebRequest(request, disconnected.signal);
      origins.set(web, { request, client });
      const response = await (
        await handler()
      ).fetch(web, parsedBody === undefined ? undefined : { parsedBody });
      const sent = sendWebResponse(reply, response, deps.logger);
      sending.add(sent);
      await sent.finally(() => sending.delete(sent));
      return reply;
    },
  });

  // Open streams (2026-07-28 exchanges and subscriptions) would hold the listener open: end
  // them, and let their responses finish before the server closes its idle connections
  // (a socket whose response ends after that stays open until the client drops it).
  app.addHook('preClose', async () => {
    const open = await loaded?.catch(() => undefined);
    await open?.close();
    await Promise.all(sending);
  });
}

function parseBody(body: unknown): { ok: true; value: unknown } | { ok: false; error: AgentdError } {
  if (typeof body !== 'string' || body.trim() === '') {
    return { ok: false, error: err('PARSE_ERROR', 'Request body is empty; send a JSON-RPC message') };
  }
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    return {
      ok: false,
      error: err('PARSE_ERROR', `Request body is not valid JSON: ${(error as Error).message}`),
    };
  }
}

/**
 * A JSON-RPC error response with no id (the request could not be read): the catalogue's
 * code, message and HTTP status, in the plain shape MCP clients expect (no A2A ErrorInfo).
 */
function sendError(reply: FastifyReply, error: AgentdError): FastifyReply {
  return reply
    .code(error.httpStatus)
    .type('application/json')
    .send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: null,
        error: { code: error.jsonRpcCode, message: error.message },
      }),
    );
}

/** The `requestId` of a `notifications/cancelled` message, else undefined. */
function cancelledRequestId(message: unknown): unknown {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as { method?: unknown; id?: unknown; params?: { requestId?: unknown } };
  if (m.method !== 'notifications/cancelled' || m.id !== undefined) return undefined;
  return m.params?.requestId;
}

/** The web `Request` the MCP handler sees: method, URL, headers, and a signal that fires on disconnect. */
function toWebRequest(request: FastifyRequest, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return new Request(requestUrl(request), { method: request.method, headers, signal });
}

function requestUrl(request: FastifyRequest): URL {
  try {
    return new URL(request.url, `${request.protocol}://${request.host}`);
  } catch {
    // A Host header no URL can carry: the SDK does not use the host anyway.
    return new URL(request.url, 'http://localhost');
  }
}

/**
 * Writes a web `Response` to the client as it comes: status and headers at once (an SSE
 * stream's headers must not wait for its first event), then the body. When the client goes
 * away the body stream is cancelled, which ends the MCP exchange.
 */
async function sendWebResponse(reply: FastifyReply, response: Response, logger: Logger): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders()))
    if (value !== undefined) headers[name] = value;
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) res.flushHeaders();
  try {
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), res);
  } catch (error) {
    // Mostly the client closing the stream early (a cancelled call, a closed app).
    logger.debug({ err: error, request_id: reply.request.id }, 'MCP response stream ended early');
  }
}
