import { StreamResponse } from '@a2a-js/sdk';
import type { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { err, toAgentdError } from '../../errors.js';
import type { AgentRequestHandler } from '../../engine/agent-request-handler.js';
import {
  callStreaming,
  callUnary,
  errorEnvelope,
  parseJsonRpc,
  resultEnvelope,
  STREAMING_METHODS,
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
import { markA2A } from './http-metrics.js';
import { sendJsonRpcError } from './http-errors.js';
import { checkV03Params } from '../jsonrpc-v03-params.js';

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
          deps.logger,
          reply,
          null,
          err(
            'CONTENT_TYPE_NOT_SUPPORTED',
            `Unsupported Content-Type "${request.headers['content-type'] ?? '(none)'}"; send application/json`,
          ),
        );
      }
      const parsed = parseJsonRpc(body);
      if (!parsed.ok) return sendJsonRpcError(deps.logger, reply, parsed.id, parsed.error);
      const { id, method, params } = parsed.request;
      markA2A(request, deps.tracing, 'jsonrpc', method);
      let agent;
      try {
        agent = deps.engine.agent(request.params.agent);
        checkVersion(request, ['1.0', '0.3']);
      } catch (error) {
        return sendJsonRpcError(deps.logger, reply, id, error);
      }

      if (method.includes('/') || request.headers['a2a-version'] === '0.3') {
        if (!deps.compatV03) {
          return sendJsonRpcError(
            deps.logger,
            reply,
            id,
            err(
              'VERSION_NOT_SUPPORTED',
              `"${method}" is an A2A v0.3 method and v0.3 compatibility is off on this server`,
            ),
          );
        }
        try {
          checkV03Params(method, params);
        } catch (error) {
          return sendJsonRpcError(deps.logger, reply, id, error);
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
          return sendJsonRpcError(deps.logger, reply, id, error);
        }
      }

      try {
        const result = await callUnary(deps.engine, agent, method, params, callContext(request));
        return reply.type('application/json').send(resultEnvelope(id, result));
      } catch (error) {
        return sendJsonRpcError(deps.logger, reply, id, error);
      }
    },
  );
}

/**
 * A v0.3 request through the SDK's compat layer. The layer answers failures itself, as
 * v0.3 JSON-RPC errors; an internal one (-32603) carries the raw exception message, so it is
 * logged here and answered with the generic message instead.
 */
async function handleLegacy(
  deps: HttpDeps,
  handler: LegacyJsonRpcTransportHandler,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Record<string, unknown>,
): Promise<FastifyReply> {
  const Legacy = handler.constructor as typeof LegacyJsonRpcTransportHandler;
  const id = body.id ?? null;
  const legacyError = (error: unknown): string =>
    JSON.stringify({ jsonrpc: '2.0', id, error: Legacy.mapToLegacyJSONRPCError(error) });
  /** Logs and masks an internal error the compat layer produced. */
  const masked = (response: { error?: { code: number; message: string } }): unknown => {
    if (response.error?.code !== -32603) return response;
    deps.logger.error(
      { request_id: request.id, method: body.method, err: { message: response.error.message } },
      'unhandled error in the v0.3 compat layer',
    );
    return { ...response, error: { ...response.error, message: 'Internal error' } };
  };
  const controller = disconnectController(reply);
  const ctx = callContext(request, controller.signal);
  let first;
  let iterator;
  try {
    const result = await handler.handle(body, ctx);
    if (!(Symbol.asyncIterator in result))
      return reply.type('application/json').send(JSON.stringify(masked(result)));
    iterator = result[Symbol.asyncIterator]();
    first = await iterator.next();
  } catch (error) {
    if (toAgentdError(error).code === 'INTERNAL')
      deps.logger.error({ err: error, request_id: request.id, method: body.method }, 'v0.3 call failed');
    return reply.type('application/json').send(legacyError(error));
  }
  if (!first.done && first.value.error)
    return reply.type('application/json').send(JSON.stringify(masked(first.value)));
  reply.hijack();
  const sse = new SseStream(reply.raw, deps.sseKeepAliveMs, (s) => deps.streams.delete(s), controller);
  deps.streams.add(sse);
  try {
    if (!first.done) await sse.send(JSON.stringify(first.value));
    for (let next = await iterator.next(); !next.done && !sse.signal.aborted; next = await iterator.next()) {
      await sse.send(JSON.stringify(next.value));
    }
  } catch (error) {
    await sse.send(legacyError(error), undefined, 'error');
  } finally {
    await iterator.return?.(undefined);
    sse.end();
  }
  return reply;
}
