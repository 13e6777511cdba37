/**
 * A2A v0.3 HTTP+JSON at every agent's REST base (`/a2a/<agent>/rest/v1/...`), served by the
 * SDK's v0.3 REST router over the same engine. The router is the SDK's
 * `LegacyRestTransportHandler` plus the v0.3 proto-JSON codec, which the SDK ships only as
 * an express router; agentd hands the hijacked request to it instead of re-implementing the
 * v0.3 wire format.
 *
 * Which requests are v0.3 (the precedence): every v0.3 REST path starts with `/v1/`, so
 * only a path below `v1/` can be v0.3, and there the `A2A-Version` (header or query
 * parameter) decides: none (A2A §3.6.1 assumes 0.3 for an empty header) or 0.x is v0.3,
 * anything else is v1.0 with `v1` as the tenant. So a v1.0 tenant named `v1` is addressed
 * with `A2A-Version: 1.0`, which the v1.0 SDK clients always send. Any other path is v1.0
 * as before (with `A2A-Version: 0.3` it is VersionNotSupported).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnauthenticatedUser, type ServerCallContext } from '@a2a-js/sdk/server';
import type { LegacyRestErrorBody } from '@a2a-js/sdk/compat/v0_3/server';
import type { Express, NextFunction, Request, Response } from 'express';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { err, toAgentdError, type AgentdError } from '../../errors.js';
import {
  callContext,
  checkVersion,
  disconnectController,
  isV03Version,
  requestedVersion,
  UNSUPPORTED_BODY,
  type HttpDeps,
} from './http-context.js';
import { markA2A, markA2AError } from './http-metrics.js';

/** The v0.3 REST operations: method, path below the REST base, A2A operation, metric label. */
const V03_ROUTES: ReadonlyArray<readonly [string, RegExp, string, string]> = [
  ['POST', /^v1\/message:send$/, 'SendMessage', '/v1/message:send'],
  ['POST', /^v1\/message:stream$/, 'SendStreamingMessage', '/v1/message:stream'],
  ['POST', /^v1\/tasks\/[^/]+:cancel$/, 'CancelTask', '/v1/tasks/{id}:cancel'],
  ['GET', /^v1\/tasks\/[^/]+:subscribe$/, 'SubscribeToTask', '/v1/tasks/{id}:subscribe'],
  ['POST', /^v1\/tasks\/[^/]+:subscribe$/, 'SubscribeToTask', '/v1/tasks/{id}:subscribe'],
  ['GET', /^v1\/tasks\/[^/:]+$/, 'GetTask', '/v1/tasks/{id}'],
  [
    'POST',
    /^v1\/tasks\/[^/]+\/pushNotificationConfigs$/,
    'CreateTaskPushNotificationConfig',
    '/v1/tasks/{id}/pushNotificationConfigs',
  ],
  [
    'GET',
    /^v1\/tasks\/[^/]+\/pushNotificationConfigs$/,
    'ListTaskPushNotificationConfigs',
    '/v1/tasks/{id}/pushNotificationConfigs',
  ],
  [
    'GET',
    /^v1\/tasks\/[^/]+\/pushNotificationConfigs\/[^/]+$/,
    'GetTaskPushNotificationConfig',
    '/v1/tasks/{id}/pushNotificationConfigs/{configId}',
  ],
  [
    'DELETE',
    /^v1\/tasks\/[^/]+\/pushNotificationConfigs\/[^/]+$/,
    'DeleteTaskPushNotificationConfig',
    '/v1/tasks/{id}/pushNotificationConfigs/{configId}',
  ],
  ['GET', /^v1\/card$/, 'GetExtendedAgentCard', '/v1/card'],
];

/** Whether a request at an agent's REST base is A2A v0.3 (see the precedence above). */
export function isV03RestRequest(request: FastifyRequest, path: string): boolean {
  if (!path.startsWith('v1/')) return false;
  const version = requestedVersion(request);
  return version === undefined || isV03Version(version);
}

/**
 * Serves v0.3 REST requests, one SDK router per agent, built on the agent's first v0.3
 * request. The router writes its SSE streams itself; this class adds what agentd's own
 * streams have: comment keep-alives while idle, and an end at shutdown (the request's
 * abort signal stops the engine's stream, and the router then ends the response).
 */
export class V03RestRoutes {
  private readonly apps = new Map<string, Promise<Express>>();
  /**
   * Call contexts of requests in flight, found by their headers object: the SDK's context
   * builder is given the headers but not the request.
   */
  private readonly contexts = new WeakMap<object, ServerCallContext>();
  /** Responses handed to the router and not closed yet, with their request's controller. */
  private readonly open = new Map<ServerResponse, AbortController>();

  constructor(private readonly deps: HttpDeps) {}

  /** Answers a v0.3 request for `agentName`; `path` is below the agent's REST base. */
  async serve(
    agentName: string,
    path: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const route = V03_ROUTES.find(([method, pattern]) => method === request.method && pattern.test(path));
    markA2A(
      request,
      this.deps.tracing,
      'rest',
      route?.[2] ?? 'unknown',
      route ? `/a2a/:agent/rest${route[3]}` : undefined,
    );
    let app: Express;
    let body: unknown;
    try {
      const agent = this.deps.engine.agent(agentName);
      if (!this.deps.compatV03) {
        throw err(
          'VERSION_NOT_SUPPORTED',
          'This is an A2A v0.3 REST request and v0.3 compatibility is off on this server (a v1.0 tenant named "v1" is addressed with A2A-Version: 1.0)',
          { requestedVersion: requestedVersion(request) ?? '0.3', supportedVersions: '1.0' },
        );
      }
      checkVersion(request, ['0.3']);
      if (!route) {
        throw err('ROUTE_NOT_FOUND', `No A2A v0.3 HTTP+JSON route for ${request.method} /${path}`, { path });
      }
      body = v03Body(request);
      app = await this.appFor(agent.name);
    } catch (error) {
      return sendV03Error(reply, error);
    }
    const raw = request.raw as IncomingMessage & { body?: unknown };
    // The SDK's body parser sees a request whose body fastify has already read, and
    // leaves `body` as set here.
    raw.body = body;
    raw.url = pathBelowRestBase(raw.url ?? '');
    const controller = disconnectController(reply);
    this.contexts.set(raw.headers, callContext(request, controller.signal, '0.3'));
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value !== undefined) reply.raw.setHeader(name, value);
    }
    reply.hijack();
    this.track(reply.raw, controller);
    app(raw, reply.raw);
    return reply;
  }

  /** Ends every open v0.3 stream (shutdown): each ends cleanly once its engine stream stops. */
  closeStreams(): void {
    for (const [res, controller] of this.open) if (isEventStream(res)) controller.abort();
  }

  private track(res: ServerResponse, controller: AbortController): void {
    this.open.set(res, controller);
    // Comments between the router's whole-event writes keep proxies from timing the stream out.
    const keepAlive = setInterval(() => {
      if (isEventStream(res) && !res.writableEnded && !res.destroyed) res.write(': keep-alive\n\n');
    }, this.deps.sseKeepAliveMs);
    keepAlive.unref();
    res.once('close', () => {
      clearInterval(keepAlive);
      this.open.delete(res);
    });
  }

  private appFor(agentName: string): Promise<Express> {
    let app = this.apps.get(agentName);
    if (!app) {
      app = this.buildApp(agentName);
      this.apps.set(agentName, app);
      app.catch(() => this.apps.delete(agentName));
    }
    return app;
  }

  private async buildApp(agentName: string): Promise<Express> {
    // Loaded on the first v0.3 REST request: servers without v0.3 REST clients never load express.
    const [{ default: express }, { legacyRestRouter }, { toLegacyHTTPError }] = await Promise.all([
      import('express'),
      import('@a2a-js/sdk/compat/v0_3/server/express'),
      import('@a2a-js/sdk/compat/v0_3/server'),
    ]);
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(
      legacyRestRouter({
        requestHandler: this.deps.engine.handlerFor(agentName),
        userBuilder: () => Promise.resolve(new UnauthenticatedUser()),
        contextBuilder: (options) => {
          const context = this.contexts.get(options.headers);
          if (!context) throw err('INTERNAL', 'v0.3 REST request without a call context');
          return context;
        },
      }),
    );
    // A path the router does not serve, and anything that escapes it, in the v0.3 error shape.
    app.use((req: Request, res: Response) => {
      const e = err('ROUTE_NOT_FOUND', `No A2A v0.3 HTTP+JSON route for ${req.method} ${req.path}`);
      res.status(e.httpStatus).json(toLegacyHTTPError(e));
    });
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      const e = toAgentdError(error);
      if (e.code === 'INTERNAL') this.deps.logger.error({ err: error }, 'v0.3 REST request failed');
      if (res.headersSent) res.end();
      else res.status(e.httpStatus).json(toLegacyHTTPError(e));
    });
    return app;
  }
}

function isEventStream(res: ServerResponse): boolean {
  return res.headersSent && String(res.getHeader('content-type') ?? '').startsWith('text/event-stream');
}

/** The path and query below `/a2a/<agent>/rest`, as the SDK's router expects them. */
function pathBelowRestBase(url: string): string {
  const afterAgent = url.indexOf('/', '/a2a/'.length);
  return url.slice(afterAgent + '/rest'.length) || '/';
}

/** The JSON body of a v0.3 request (undefined when there is none). */
function v03Body(request: FastifyRequest): unknown {
  const body = request.body as string | typeof UNSUPPORTED_BODY | undefined;
  if (body === UNSUPPORTED_BODY) {
    throw err(
      'CONTENT_TYPE_NOT_SUPPORTED',
      `Unsupported Content-Type "${request.headers['content-type'] ?? '(none)'}"; send application/json`,
    );
  }
  if (body === undefined || body === '') return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    throw err('PARSE_ERROR', `Request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** A v0.3 REST error: the bare `{ code, message, data }` body v0.3 clients read. */
async function sendV03Error(reply: FastifyReply, error: unknown): Promise<FastifyReply> {
  const e: AgentdError = toAgentdError(error);
  markA2AError(reply.request, e.code);
  const { toLegacyHTTPError } = await import('@a2a-js/sdk/compat/v0_3/server');
  const body: LegacyRestErrorBody = toLegacyHTTPError(e);
  return reply.code(e.httpStatus).type('application/json').send(JSON.stringify(body));
}
