import { maxHeaderSize } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { httpsServerOptions, reloadHttpsServer, type ServerTls } from '../../security/tls-server.js';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { err, toAgentdError } from '../../errors.js';
import { requestIdFrom } from '../../engine/call-context.js';
import type { HostedAgent } from '../../engine/hosted-agent.js';
import { probePassed, type HealthChecker, type ProbeKind } from '../../observability/health-checker.js';
import type { AgentdMetrics } from '../../observability/metrics.js';
import { observeRequest } from './http-metrics.js';
import type { RegisteredAgent } from '../../store/ports.js';
import { registerMcpEndpoint } from '../../mcp/mcp-endpoint.js';
import type { McpServerStatus } from '../../mcp/mcp-pool.js';
import { agentCardJson, wantsV1Card } from './card-response.js';
import { queryParam, requestedVersion, UNSUPPORTED_BODY, type HttpDeps } from './http-context.js';
import { CardCache } from './card-caching.js';
import { registerJsonRpcRoutes } from './jsonrpc-routes.js';
import { registerRestRoutes } from './rest-routes.js';
import { clientErrorHandler, frameworkErrorHandler, sendHttpError, sendRestError } from './http-errors.js';
import type { SseStream } from './sse-stream.js';
import type { V03RestRoutes } from './v03-rest-routes.js';
import { registerHttpAuth, type HttpAuthOptions } from './http-auth.js';
import { mayUseAgent, type ScopeRules } from '../../security/authz.js';
import { ANONYMOUS } from '../../security/principal.js';
import { registerRateLimit } from './http-rate-limit.js';
import type { RateLimitGuard } from '../../security/rate-limit.js';
import type { StoreBackup } from '../../store/ports.js';
import type { BackupSourceKind } from '../../store/backup/backup-format.js';
import { registerBackupRoutes } from './backup-routes.js';

/** Limits against slow and greedy clients (defaults and reasons in the config schema). */
export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** No traffic at all on a connection for this long closes it; 0: off. */
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
}

export interface HttpServerOptions extends Omit<HttpDeps, 'streams' | 'cards'> {
  /** Timeouts and the connection cap; Node's defaults when absent (tests of other concerns). */
  readonly limits?: HttpLimits | undefined;
  /** Serve the A2A JSON-RPC and HTTP+JSON bindings (off with `--transport grpc`; cards and probes stay). */
  readonly a2a: boolean;
  readonly bodyLimitBytes: number;
  readonly health: HealthChecker;
  readonly defaultAgent: () => HostedAgent;
  /** Agents across every server on the store, optionally with a skill id or tag. */
  readonly discover: (capability?: string) => Promise<RegisteredAgent[]>;
  /** This server's id in the registry. */
  readonly serverId: string;
  /** Where HTTP and A2A request metrics go (none when monitoring is off). */
  readonly metrics: AgentdMetrics | undefined;
  /** Serve the agents' skills as MCP tools at `/mcp` (default on). */
  readonly mcp?: boolean;
  /** The MCP servers agents use, for `/api/v1/mcp/servers` (served when MCP servers are configured). */
  readonly mcpServers?: (() => McpServerStatus[]) | undefined;
  /** Resolves once the agent cards carry their final URLs; card requests wait for it. */
  readonly cardsPublished: Promise<void>;
  /** Whether the server is draining for shutdown (requests get 503 SHUTTING_DOWN, probes answer). */
  readonly draining: () => boolean;
  /** Rate limits per client IP and principal (none configured: undefined). */
  readonly rateLimit?: RateLimitGuard | undefined;
  /** The public keys cards and webhook deliveries are signed with, served at /.well-known/jwks.json. */
  readonly jwks?: (() => { keys: readonly object[] }) | undefined;
  /** Serve HTTPS (and mTLS with a client CA) from this material, reloaded as it changes. */
  readonly tls?: ServerTls | undefined;
  /** Authentication (absent or off: the open mode) and the agents' scope rules. */
  readonly auth?: (Omit<HttpAuthOptions, 'logger'> & { readonly scopes: ScopeRules }) | undefined;
  /** The store's export and import, for `/api/v1/admin/backup` and `/restore` (absent: not served). */
  readonly backup?: { readonly store: StoreBackup; readonly kind: BackupSourceKind } | undefined;
}

/** Paths that answer while draining: the probes (readiness reports the drain). */
const PROBES = new Set(['/health', '/ready', '/startup']);

export interface HttpServer {
  readonly app: FastifyInstance;
  /** Open SSE streams. */
  readonly streams: ReadonlySet<SseStream>;
  /** Ends every open SSE stream cleanly (shutdown). */
  closeStreams(): void;
}

/**
 * The fastify app: A2A JSON-RPC + SSE and HTTP+JSON per agent, agent cards, the agent
 * directory and probes. Bodies are read as text by our own parser so that malformed JSON
 * becomes the binding's own error (-32700 / HTTP 400), and anything but JSON becomes
 * ContentTypeNotSupported; fastify enforces the body limit from Content-Length before
 * reading (HTTP 413).
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const streams = new Set<SseStream>();
  const cards = new CardCache();
  const deps: HttpDeps = { ...options, streams, cards };
  const logger = options.logger;
  const limits = options.limits;
  const serverLimits = limits
    ? {
        headersTimeout: limits.headersTimeoutMs,
        // Node checks the header and request timeouts on this interval (default 30 s).
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
      }
    : {};
  const app = Fastify({
    // With TLS the same limits go to the HTTPS server (fastify passes `https` to it and
    // ignores `http`), and a TLS handshake gets no longer than the headers.
    ...(options.tls
      ? ({
          https: {
            ...httpsServerOptions(options.tls),
            ...serverLimits,
            ...(limits ? { handshakeTimeout: limits.headersTimeoutMs } : {}),
          },
        } as object)
      : {}),
    ...(limits
      ? {
          ...(options.tls ? {} : { http: serverLimits }),
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          connectionTimeout: limits.idleTimeoutMs,
        }
      : {}),
    bodyLimit: options.bodyLimitBytes,
    logger: false,
    forceCloseConnections: 'idle',
    // The request id: the client's `x-request-id` when sane, else a new UUID; echoed back.
    requestIdHeader: false,
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    routerOptions: { ignoreTrailingSlash: true },
    // fastify's and Node's own errors get the catalogue's bodies too (see http-errors.ts).
    frameworkErrors: frameworkErrorHandler(logger),
    clientErrorHandler: clientErrorHandler(logger, maxHeaderSize),
  });

  // Over the cap, Node closes a new connection on accept (no bytes can be answered safely).
  if (limits) app.server.maxConnections = limits.maxConnections;
  if (options.tls) {
    const stop = reloadHttpsServer(app.server as unknown as HttpsServer, options.tls);
    app.addHook('onClose', (_app, done) => {
      stop();
      done();
    });
  }

  // One hook for every request: echo its id, and watch it for metrics and tracing when on.
  const observed = Boolean(options.metrics || options.tracing.enabled);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (observed) observeRequest(options.metrics, request, reply);
    if (options.draining() && !PROBES.has(request.url.split('?')[0] ?? '')) {
      // Arrived while draining: refused in the binding's shape, and the connection closed, so
      // the client's next request goes to another replica.
      reply.header('connection', 'close').header('retry-after', '1');
      sendHttpError(logger, request, reply, err('SHUTTING_DOWN'));
      return;
    }
    done();
  });
  // Rate limits: the client address in onRequest, which must stay BEFORE the authentication
  // hook so refused logins count; the principal in preParsing, after every onRequest hook
  // (authentication sets request.principal) and before the body is read. See http-rate-limit.ts.
  if (options.rateLimit) registerRateLimit(app, options.rateLimit, logger, PROBES);
  const auth = options.auth?.authenticator.enabled ? options.auth : undefined;
  if (auth) registerHttpAuth(app, { ...auth, logger });
  /** Whether the request's caller may send messages to the agent (its scopes). */
  const mayUse = (request: FastifyRequest, agent: string): boolean =>
    !auth || mayUseAgent(auth.scopes, request.principal ?? ANONYMOUS, agent);
  // A response finished while draining closes its keep-alive connection (the request was in flight).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (options.draining()) reply.header('connection', 'close');
    done(null, payload);
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/a2a+json'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, UNSUPPORTED_BODY));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e =
      error.statusCode === 413
        ? err('PAYLOAD_TOO_LARGE', `Request body exceeds the ${options.bodyLimitBytes}-byte limit`, {
            limitBytes: String(options.bodyLimitBytes),
          })
        : error.statusCode === 415
          ? err(
              'CONTENT_TYPE_NOT_SUPPORTED',
              `Unsupported Content-Type "${request.headers['content-type'] ?? '(none)'}"`,
            )
          : error.statusCode !== undefined && error.statusCode < 500
            ? err('INVALID_REQUEST', error.message)
            : toAgentdError(error);
    sendHttpError(logger, request, reply, e);
  });
  app.setNotFoundHandler((request, reply) =>
    sendRestError(
      logger,
      reply,
      err('ROUTE_NOT_FOUND', `No endpoint ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  const sendProbe = async (reply: FastifyReply, kind: ProbeKind): Promise<FastifyReply> => {
    const report = await options.health.probe(kind);
    return reply
      .code(probePassed(report) ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(report);
  };
  app.get('/health', (_req, reply) => sendProbe(reply, 'liveness'));
  app.get('/ready', (_req, reply) => sendProbe(reply, 'readiness'));
  app.get('/startup', (_req, reply) => sendProbe(reply, 'startup'));

  // A card asked for while the server starts waits for its final URLs: never a card with
  // placeholder URLs (a client that starts with the server would call the wrong port).
  // Which card a client gets depends on its A2A-Version (see agentCardJson); each variant has
  // its own validators (ETag, Last-Modified).
  let published = false;
  void options.cardsPublished.then(
    () => (published = true),
    () => {}, // shut down before starting: waiting card requests get the rejection below
  );
  const sendCard = async (
    request: FastifyRequest,
    reply: FastifyReply,
    agent: () => HostedAgent,
  ): Promise<FastifyReply> => {
    if (!published) await options.cardsPublished;
    const { card, name } = agent();
    const version = requestedVersion(request);
    const json = await agentCardJson(card, version);
    reply.header('vary', 'A2A-Version');
    return cards.send(
      request,
      reply,
      `${name}:${wantsV1Card(version) ? 'v1' : 'v0.3'}`,
      json,
      'application/json',
      'public, max-age=60',
    );
  };
  app.get('/.well-known/agent-card.json', (request, reply) => sendCard(request, reply, options.defaultAgent));
  const jwks = options.jwks;
  if (jwks) {
    app.get('/.well-known/jwks.json', (_request, reply) =>
      reply
        .type('application/jwk-set+json')
        .header('cache-control', 'public, max-age=300')
        .send(JSON.stringify(jwks())),
    );
  }
  // `/a2a/<name>/.well-known/agent-card.json` is the card. The SDK's createFromUrl(cardUrl)
  // (without an explicit path) resolves the relative well-known path against the card URL
  // itself and asks for `.well-known/.well-known/agent-card.json`; serve that too.
  app.get<{ Params: { agent: string; '*': string } }>('/a2a/:agent/.well-known/*', async (request, reply) => {
    try {
      const rest = request.params['*'];
      if (rest !== 'agent-card.json' && rest !== '.well-known/agent-card.json') throw err('ROUTE_NOT_FOUND');
      const agent = options.engine.agent(request.params.agent);
      return await sendCard(request, reply, () => agent);
    } catch (error) {
      return sendRestError(logger, reply, error);
    }
  });
  app.get('/a2a/.well-known/agent-card.json', (_req, reply) =>
    sendRestError(
      logger,
      reply,
      err(
        'AGENT_NOT_FOUND',
        'No agent in this URL: agent base URLs end with "/" (e.g. /a2a/echo/), or use the card URL',
      ),
    ),
  );

  app.get('/api/v1/agents', async (request, reply) => {
    let capability: string | undefined;
    try {
      capability = queryParam(request, 'capability')?.trim() || undefined;
    } catch (error) {
      return sendRestError(logger, reply, error);
    }
    const defaultName = options.defaultAgent().name;
    // Local agents the caller may not use are left out (remote servers guard their own).
    const agents = (await options.discover(capability)).filter(
      (a) => a.serverId !== options.serverId || mayUse(request, a.name),
    );
    return reply.send({
      ...(capability ? { capability } : {}),
      agents: agents.map((a) => {
        const url = (binding: string): string | undefined =>
          a.card.supportedInterfaces.find((i) => i.protocolBinding === binding && i.protocolVersion === '1.0')
            ?.url;
        const grpc = a.card.supportedInterfaces.find((i) => i.protocolBinding === 'GRPC');
        const local = a.serverId === options.serverId;
        return {
          name: a.name,
          description: a.card.description,
          server: a.serverId,
          ...(a.region ? { region: a.region } : {}),
          local,
          default: local && a.name === defaultName,
          cardUrl: a.cardUrl,
          jsonRpcUrl: url('JSONRPC'),
          restUrl: url('HTTP+JSON'),
          ...(grpc ? { grpc: { address: grpc.url, tenant: grpc.tenant } } : {}),
          skills: a.card.skills.map((s) => ({ id: s.id, name: s.name, tags: s.tags })),
          capabilities: {
            streaming: a.card.capabilities?.streaming ?? false,
            pushNotifications: a.card.capabilities?.pushNotifications ?? false,
          },
        };
      }),
    });
  });

  const mcpServers = options.mcpServers;
  if (mcpServers)
    app.get('/api/v1/mcp/servers', (request, reply) =>
      // The MCP servers behind the agents are infrastructure: with authentication on, admins only.
      auth && !(request.principal ?? ANONYMOUS).admin
        ? sendRestError(
            logger,
            reply,
            err(
              'PERMISSION_DENIED',
              `Listing MCP servers requires the scope ${auth.authenticator.adminScope}`,
            ),
          )
        : reply.send({ servers: mcpServers() }),
    );

  if (options.backup)
    registerBackupRoutes(app, {
      ...options.backup,
      logger,
      adminScope: auth ? auth.authenticator.adminScope : undefined,
    });

  let v03Rest: V03RestRoutes | undefined;
  if (options.a2a) {
    registerJsonRpcRoutes(app, deps);
    v03Rest = registerRestRoutes(app, deps);
  }
  if (options.mcp ?? true) {
    registerMcpEndpoint(app, {
      engine: options.engine,
      agents: () => options.engine.listAgents(),
      logger: options.logger,
      ...(auth
        ? { mayUse: (request: FastifyRequest, agent: HostedAgent) => mayUse(request, agent.name) }
        : {}),
    });
  }

  return {
    app,
    streams,
    closeStreams: () => {
      for (const s of [...streams]) s.end();
      v03Rest?.closeStreams();
    },
  };
}
