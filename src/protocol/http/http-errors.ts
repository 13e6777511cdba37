/**
 * HTTP error answers, in one place: the JSON-RPC error envelope on the JSON-RPC endpoint and
 * the `google.rpc.Status` body (A2A §11.6) everywhere else, for our own errors and for the
 * ones fastify (bad URL, overlong path segment, body limit) and Node's HTTP parser (request
 * line or headers too large, broken framing, timeouts) raise before any route runs. Every
 * INTERNAL is logged here, at error level with its request id and stack, exactly once.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AgentdError, err, toAgentdError, toJsonRpcErrorBody, toRestErrorBody } from '../../errors.js';
import { traceFields } from '../../observability/tracing.js';
import { errorEnvelope, type JsonRpcId } from '../jsonrpc.js';
import { markA2AError, traceContextOf } from './http-metrics.js';

const A2A_JSON = 'application/a2a+json';

/** Which binding's error shape a request gets: JSON-RPC is `POST /a2a/<agent>` (with or without `/`). */
export type HttpBinding = 'jsonrpc' | 'rest';

/** The binding of a request from its method and raw URL (also for requests no route matched). */
export function bindingOf(method: string | undefined, url: string | undefined): HttpBinding {
  const path = (url ?? '').split('?')[0] ?? '';
  return method === 'POST' && /^\/a2a\/[^/]+\/?$/.test(path) ? 'jsonrpc' : 'rest';
}

/** Errors that are about the HTTP exchange itself keep their HTTP status; A2A errors ride on 200. */
const TRANSPORT_LEVEL: ReadonlySet<string> = new Set([
  'AGENT_NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'URI_TOO_LONG',
  'HEADERS_TOO_LARGE',
  'REQUEST_TIMEOUT',
  'INTERNAL',
  'QUEUE_FULL',
  'SHUTTING_DOWN',
  'STORE_UNAVAILABLE',
]);

/** HTTP status for a JSON-RPC error response. */
export function jsonRpcHttpStatus(e: AgentdError): number {
  return TRANSPORT_LEVEL.has(e.code) ? e.httpStatus : 200;
}

/** Logs an INTERNAL error (the cause's stack, never sent to the client). */
function logIfInternal(logger: Logger, request: FastifyRequest, e: AgentdError): void {
  if (e.code !== 'INTERNAL') return;
  logger.error(
    {
      err: e.cause ?? e,
      request_id: request.id,
      ...traceFields(traceContextOf(request)),
      method: request.method,
      path: request.url.split('?')[0],
    },
    'unhandled error',
  );
}

/**
 * Sends a JSON-RPC error response. `status` overrides the binding's rule, for errors that
 * happen before the request is a JSON-RPC call at all (fastify's own).
 */
export function sendJsonRpcError(
  logger: Logger,
  reply: FastifyReply,
  id: JsonRpcId,
  error: unknown,
  status?: number,
): FastifyReply {
  const e = toAgentdError(error);
  logIfInternal(logger, reply.request, e);
  markA2AError(reply.request, e.code);
  return reply
    .code(status ?? jsonRpcHttpStatus(e))
    .type('application/json')
    .send(errorEnvelope(id, e));
}

/** Sends an HTTP+JSON error (`google.rpc.Status` shape, A2A §11.6). */
export function sendRestError(logger: Logger, reply: FastifyReply, error: unknown): FastifyReply {
  const e = toAgentdError(error);
  logIfInternal(logger, reply.request, e);
  markA2AError(reply.request, e.code);
  return reply
    .code(e.httpStatus)
    .type(A2A_JSON)
    .send(JSON.stringify(toRestErrorBody(e)));
}

/** Sends `error` in the shape of the request's binding, with its own HTTP status. */
export function sendHttpError(
  logger: Logger,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
): void {
  const jsonRpc =
    (request.routeOptions.config as { protocol?: string } | undefined)?.protocol === 'jsonrpc' ||
    bindingOf(request.method, request.url) === 'jsonrpc';
  if (jsonRpc) sendJsonRpcError(logger, reply, null, error, toAgentdError(error).httpStatus);
  else sendRestError(logger, reply, error);
}

/**
 * fastify's `frameworkErrors`: errors the router raises before a route runs. A URL that is
 * not valid %-encoding is a bad request; a path segment over `maxParamLength` is a URI too
 * long. Anything else is unexpected, so INTERNAL (and logged).
 */
export function frameworkErrorHandler(
  logger: Logger,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const e =
      error.code === 'FST_ERR_BAD_URL'
        ? err('INVALID_REQUEST', `The request path is not valid percent-encoding: ${path}`)
        : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? err('URI_TOO_LONG', 'A segment of the request path is longer than 100 characters')
          : toAgentdError(error);
    sendHttpError(logger, request, reply, e);
  };
}

/** What Node's HTTP parser reported about a connection, as a catalogue error. */
function clientErrorOf(error: ConnectionError, raw: Buffer | undefined, maxHeaderBytes: number): AgentdError {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return err('REQUEST_TIMEOUT', 'The request headers and body were not received in time');
    case 'HPE_HEADER_OVERFLOW': {
      // One limit covers the request line and the headers: it is the URI's fault when the
      // request line alone reaches it.
      const lineEnd = raw ? raw.indexOf('\r\n') : -1;
      const lineBytes = raw ? (lineEnd < 0 ? raw.length : lineEnd) : 0;
      return lineBytes >= maxHeaderBytes
        ? err('URI_TOO_LONG', `The request line is longer than the ${maxHeaderBytes}-byte header limit`, {
            limitBytes: String(maxHeaderBytes),
          })
        : err('HEADERS_TOO_LARGE', `The request headers exceed the ${maxHeaderBytes}-byte limit`, {
            limitBytes: String(maxHeaderBytes),
          });
    }
    default:
      return err('INVALID_REQUEST', `Malformed HTTP request (${error.code || 'parse error'})`);
  }
}

/**
 * The server's `clientError` handler: Node found a request it cannot parse (or one that took
 * too long). Answer with a complete HTTP response carrying the catalogue's body for the
 * request's binding when it can still be written, then close the connection.
 */
export function clientErrorHandler(
  logger: Logger,
  maxHeaderBytes: number,
): (error: ConnectionError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // A failed or timed-out TLS handshake has no channel to answer on: drop the connection.
    if (/^ERR_(TLS|SSL)_/.test(error.code ?? '') || 'library' in error) {
      logger.debug({ code: error.code }, 'TLS handshake failed');
      socket.destroy();
      return;
    }
    // fastify types `rawPacket` as a serialised Buffer; Node hands over the Buffer itself.
    const rawPacket: unknown = error.rawPacket;
    const raw = Buffer.isBuffer(rawPacket) ? rawPacket : undefined;
    const e = clientErrorOf(error, raw, maxHeaderBytes);
    logger.debug({ code: error.code, reason: e.reason }, 'HTTP client error');
    // A response already under way on this connection cannot be followed by another.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const firstLine = raw?.subarray(0, 2048).toString('latin1').split('\r\n')[0] ?? '';
    const [method, url] = firstLine.split(' ');
    const body =
      bindingOf(method, url) === 'jsonrpc'
        ? JSON.stringify({ jsonrpc: '2.0', id: null, error: toJsonRpcErrorBody(e) })
        : JSON.stringify(toRestErrorBody(e));
    socket.end(
      `HTTP/1.1 ${e.httpStatus} ${STATUS_CODES[e.httpStatus] ?? 'Error'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    // A client that goes on sending must not keep the socket: close it once the answer is out.
    socket.once('finish', () => socket.destroy());
  };
}
