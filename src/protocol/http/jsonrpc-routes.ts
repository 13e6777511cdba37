import { StreamResponse } from '@a2a-js/sdk';
import type { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AgentdError, err, toAgentdError } from '../../errors.js';
import type { AgentRequestHandler } from '../../engine/task-engine.js';
import {
  callStreaming,
  callUnary,
  errorEnvelope,
  parseJsonRpc,
  resultEnvelope,
  STREAMING_METHODS,
  type JsonRpcId,
} from '../jsonrpc.js';
import {
  callContext,
  checkVersion,
  disconnectController,
  lastEventId,
  pumpSse,
  UNSUPPORTED_BODY,
  type HttpDeps,
} from './http-context.js';
import { SseStream } from './sse-stream.js';
import { markA2A, markA2AError } from './http-metrics.js';

/** Errors that are about the HTTP exchange itself keep their HTTP status; A2A errors ride on 200. */
const TRANSPORT_LEVEL: ReadonlySet<string> = new Set([
  'AGENT_NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'INTERNAL',
  'QUEUE_FULL',
  'SHUTTING_DOWN',
  'STORE_UNAVAILABLE',
]);

/** HTTP status for a JSON-RPC error response. */
export function jsonRpcHttpStatus(e: AgentdError): number {
  return TRANSPORT_LEVEL.has(e.code) ? e.httpStatus : 200;
}

/** Sends a JSON-RPC error response. */
export function sendJsonRpcError(reply: FastifyReply, id: JsonRpcId, error: unknown): FastifyReply {
  const e = toAgentdError(error);
  markA2AError(reply.request, e.code);
  return reply.code(jsonRpcHttpStatus(e)).type('application/json').send(errorEnvelope(id, e));
}

/**
 * `POST /a2a/:agent`: the JSON-RPC 2.0 binding, with SSE for the streaming methods.
 * v0.3 clients (method names like `message/send`, or `A2A-Version: 0.3`) are served by
 * the SDK's compat handler over the same engine when `compatV03` is on.
 */
export function registerJsonRpcRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const legacy = new Map<string, LegacyJsonRpcTransportHandler>();

  app.post<{ Params: { agent: string } }>(
    '/a2a/:agent',
    { config: { protocol: 'jsonrpc' } },
    async (request: FastifyRequest<{ Params: { agent: string } }>, reply: FastifyReply) => {
      const body = request.body as string | typeof UNSUPPORTED_BODY | undefined;
      if (body === UNSUPPORTED_BODY || body === undefined) {
        return sendJsonRpcError(
          reply,
          null,
          err(
            'CONTENT_TYPE_NOT_SUPPORTED',
            `Unsupported Content-Type "${request.headers['content-type'] ?? '(none)'}"; send application/json`,
          ),
        );
      }
      const parsed = parseJsonRpc(body);
      if (!parsed.ok) return sendJsonRpcError(reply, parsed.id, parsed.error);
      const { id, method, params } = parsed.request;
      markA2A(request, deps.tracing, 'jsonrpc', method);
      let agent;
      try {
        agent = deps.engine.agent(request.params.agent);
        checkVersion(request, ['1.0', '0.3']);
      } catch (error) {
        return sendJsonRpcError(reply, id, error);
      }

      if (method.includes('/') || request.headers['a2a-version'] === '0.3') {
        if (!deps.compatV03) {
          return sendJsonRpcError(
            reply,
            id,
            err(
              'VERSION_NOT_SUPPORTED',
              `"${method}" is an A2A v0.3 method and v0.3 compatibility is off on this server`,
            ),
          );
        }
        let handler = legacy.get(agent.name);
        if (!handler) {
          // The compat layer is loaded on the first v0.3 request, so it costs no memory until used.
          const { LegacyJsonRpcTransportHandler } = await import('@a2a-js/sdk/compat/v0_3/server');
          handler = new LegacyJsonRpcTransportHandler(
            deps.engine.handlerFor(agent.name) as AgentRequestHandler,
          );
          legacy.set(agent.name, handler);
        }
        return handleLegacy(deps, handler, request, reply, JSON.parse(body) as Record<string, unknown>);
      }

      if (STREAMING_METHODS.has(method)) {
        const controller = disconnectController(reply);
        try {
          const records = callStreaming(
            deps.engine,
            agent,
            method,
            params,
            callContext(request, controller.signal),
            controller.signal,
            method === 'SubscribeToTask' ? lastEventId(request) : undefined,
          );
          await pumpSse(
            deps,
            reply,
            controller,
            records,
            (r) => resultEnvelope(id, StreamResponse.toJSON(r.event)),
            (e) => errorEnvelope(id, e),
          );
          return reply;
        } catch (error) {
          return sendJsonRpcError(reply, id, error);
        }
      }

      try {
        const result = await callUnary(deps.engine, agent, method, params, callContext(request));
        return reply.type('application/json').send(resultEnvelope(id, result));
      } catch (error) {
        return sendJsonRpcError(reply, id, error);
      }
    },
  );
}

async function handleLegacy(
  deps: HttpDeps,
  handler: LegacyJsonRpcTransportHandler,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Record<string, unknown>,
): Promise<FastifyReply> {
  const controller = disconnectController(reply);
  const ctx = callContext(request, controller.signal);
  const result = await handler.handle(body, ctx);
  if (!(Symbol.asyncIterator in result)) return reply.type('application/json').send(JSON.stringify(result));
  const iterator = result[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (!first.done && first.value.error)
    return reply.type('application/json').send(JSON.stringify(first.value));
  reply.hijack();
  const sse = new SseStream(reply.raw, deps.sseKeepAliveMs, (s) => deps.streams.delete(s), controller);
  deps.streams.add(sse);
  try {
    if (!first.done) await sse.send(JSON.stringify(first.value));
    for (let next = await iterator.next(); !next.done && !sse.signal.aborted; next = await iterator.next()) {
      await sse.send(JSON.stringify(next.value));
    }
  } catch (error) {
    await sse.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: body.id ?? null,
        error: (handler.constructor as typeof LegacyJsonRpcTransportHandler).mapToLegacyJSONRPCError(error),
      }),
      undefined,
      'error',
    );
  } finally {
    await iterator.return?.(undefined);
    sse.end();
  }
  return reply;
}
