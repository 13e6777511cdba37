import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { AgentLoadError, createHostedAgent, publishCards, type Endpoints } from '../agents/agent-factory.js';
import type { AgentConfig, AgentdConfig } from '../config/schema.js';
import type { McpPool } from '../mcp/mcp-pool.js';
import type { AgentCaller } from '../engine/agent-caller.js';
import type { HostedAgent } from '../engine/hosted-agent.js';
import { PeerPicker } from '../engine/peer-picker.js';
import { TaskEngine, type EngineStats } from '../engine/task-engine.js';
import { HealthChecker } from '../observability/health-checker.js';
import type { AgentdMetrics } from '../observability/metrics.js';
import type { MetricsServer } from '../observability/metrics-server.js';
import { VERSION } from '../version.js';
import { Tracing } from '../observability/tracing.js';
import type { GrpcServer } from '../protocol/grpc/grpc-server.js';
import { createHttpServer, type HttpServer } from '../protocol/http/http-server.js';
import { createStore } from '../store/create-store.js';
import { MemoryRateLimiter } from '../store/memory/memory-rate-limiter.js';
import { RateLimitGuard } from '../security/rate-limit.js';
import { err } from '../errors.js';
import type { StateStore } from '../store/ports.js';
import { Authenticator, warnIfOpen } from '../security/authenticator.js';
import { messageAuthorizer, scopeRules } from '../security/authz.js';
import { peerIdentityFromGrpcCall, peerIdentityFromRequest } from '../security/principal.js';
import type { CardSigner } from '../security/card-signing.js';
import type { SigningKey } from '../security/signing-key.js';
import { AgentRegistration } from './agent-registration.js';
import {
  agentCallerOf,
  cardSignerOf,
  closeServerSecurity,
  loadServerSecurity,
  webhookDispatcher,
  type ServerSecurity,
} from './server-security.js';
import { bound, storeAnswers } from './listen.js';

export { ListenError } from './listen.js';

export interface ServerStats extends EngineStats {
  /** Open streams: SSE responses plus gRPC server streams. */
  readonly openStreams: number;
}

/**
 * A running agentd: the state store, the engine with its hosted agents, the HTTP
 * transport (always: cards and probes live there) and, per `server.transport`, the A2A
 * bindings on HTTP and gRPC. `start()` listens and publishes each agent's card with its
 * real URLs; `shutdown()` drains gracefully.
 */
export class AgentdServer {
  readonly engine: TaskEngine;
  readonly store: StateStore;
  readonly health = new HealthChecker();
  private readonly http: HttpServer;
  private grpc: GrpcServer | undefined;
  private grpcAddr: string | undefined;
  private readonly defaultAgent: HostedAgent;
  private readonly agents: HostedAgent[];
  /** The config entry of each agent in `agents` (same order; skipped agents are in neither). */
  private readonly agentConfigs: AgentConfig[];
  private endpoints: Endpoints | undefined;
  private baseUrl = '';
  private draining = false;
  private started = false;
  /** This server in the agent registry. */
  readonly serverId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly registration: AgentRegistration;
  /** Agents' calls to other agents (pools, retries, breakers); closed at shutdown. */
  readonly caller: AgentCaller;
  /** Picks an agent to call by capability among those registered on the store. */
  readonly peers: PeerPicker;
  /** Prometheus metrics (undefined when monitoring is off). */
  readonly metrics: AgentdMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  /** Signs cards and webhook deliveries; its public key is served at /.well-known/jwks.json. */
  readonly signingKey: SigningKey;
  /** Signs every card served (cardSigning.keyFile set); undefined: cards are unsigned. */
  private readonly cardSigner: CardSigner | undefined;
  private shutdownPromise: Promise<void> | undefined;
  /** Rate limits shared by HTTP and gRPC (undefined when none is configured). */
  private readonly rateLimit: RateLimitGuard | undefined;
  /** Resolve (published) or reject (shutdown before that) the HTTP layer's wait for final cards. */
  private cardsPublished: () => void = () => {};
  private cardsAbandoned: (error: Error) => void = () => {};

  private constructor(
    private readonly config: AgentdConfig,
    readonly logger: Logger,
    hosted: Array<{ config: AgentConfig; agent: HostedAgent }>,
    store: StateStore,
    readonly tracing: Tracing,
    Metrics: typeof AgentdMetrics | undefined,
    /** The MCP client pool (when MCP servers are configured). */
    readonly mcp: McpPool | undefined,
    /** Authentication, TLS of the listeners, outbound credentials, signing key, `/metrics` token. */
    private readonly security: ServerSecurity,
  ) {
    this.agents = hosted.map((h) => h.agent);
    this.agentConfigs = hosted.map((h) => h.config);
    const agents = this.agents;
    this.store = store;
    this.signingKey = security.signingKey;
    this.cardSigner = cardSignerOf(config, security);
    this.metrics = Metrics
      ? new Metrics({
          service: 'agentd',
          version: VERSION,
          environment: config.prometheus.environment,
          region: config.server.region,
          activeWorkflows: () => this.engine.stats().active,
          queueDepth: () => this.engine.stats().queued,
          maxQueueDepth: config.execution.maxQueueDepth,
          store: { kind: store.kind, up: () => storeAnswers(store) },
          peerBreakers: () => this.caller.breakerStates(),
        })
      : undefined;
    this.registration = new AgentRegistration(
      store.registry,
      this.serverId,
      agents,
      config.registry.heartbeatSeconds * 1000,
      logger,
      this.metrics,
      () => this.baseUrl,
      config.server.region,
    );
    this.caller = agentCallerOf(config, security, tracing, this.metrics);
    this.peers = new PeerPicker(
      this.caller,
      (capability) => this.registration.discover(capability),
      config.server.region,
    );
    this.engine = new TaskEngine({
      tracing,
      observer: this.metrics,
      business: this.metrics?.business,
      store: this.store,
      logger,
      maxConcurrent: config.execution.maxConcurrentWorkflows,
      maxQueueDepth: config.execution.maxQueueDepth,
      maxAttempts: config.execution.maxAttempts,
      maxTasksPerPrincipal: config.execution.maxTasksPerPrincipal,
      cancelGraceMs: config.execution.cancelGraceMs,
      limits: config.limits,
      messageTtlMs: config.execution.dedupeMessageIds ? config.store.retention.ttlSeconds * 1000 : 0,
      push: config.push,
      webhooks: webhookDispatcher(config, security),
      caller: this.caller,
      peerPicker: this.peers,
      pickStrategy: config.registry.pick,
      region: config.server.region,
      ...(security.authenticator.enabled
        ? { authorizeMessage: messageAuthorizer(scopeRules(config.agents)) }
        : {}),
    });
    for (const a of agents) this.engine.addAgent(a);
    this.health.register('liveness', 'event_loop', () => true);
    this.health.register('readiness', 'accepting_work', () => {
      if (!this.started) throw new Error('starting: listeners not all bound, cards not published yet');
      if (this.draining) throw new Error('draining for shutdown');
    });
    this.health.register('readiness', `store_${this.store.kind}`, () => this.store.ping());
    this.health.register('startup', 'listeners', () => {
      if (!this.started) throw new Error('starting: listeners not all bound, cards not published yet');
    });
    this.health.register('startup', `store_${this.store.kind}`, () => this.store.ping());
    if (mcp) {
      mcp.setObserver(this.metrics);
      mcp.registerHealthChecks(this.health);
      mcp.onToolsChanged((server) => this.toolsChanged(server));
    }
    const { maxBuckets } = config.rateLimits;
    this.rateLimit = RateLimitGuard.configured(config.rateLimits)
      ? new RateLimitGuard(
          config.rateLimits,
          store.rateLimiter?.({ maxBuckets }) ?? new MemoryRateLimiter(maxBuckets),
          logger,
          this.metrics,
        )
      : undefined;
    this.defaultAgent = (agents.find((_, i) => this.agentConfigs[i]?.default) ?? agents[0]) as HostedAgent;
    const defaultAgent = this.defaultAgent;
    this.http = createHttpServer({
      a2a: config.server.transport !== 'grpc',
      engine: this.engine,
      logger,
      sseKeepAliveMs: config.server.sseKeepAliveMs,
      compatV03: config.server.compatV03,
      bodyLimitBytes: config.server.bodyLimitBytes,
      limits: {
        headersTimeoutMs: config.server.httpHeadersTimeoutMs,
        requestTimeoutMs: config.server.httpRequestTimeoutMs,
        keepAliveTimeoutMs: config.server.httpKeepAliveTimeoutMs,
        idleTimeoutMs: config.server.httpIdleTimeoutMs,
        maxConnections: config.server.httpMaxConnections,
      },
      health: this.health,
      defaultAgent: () => defaultAgent as HostedAgent,
      discover: (capability) => this.registration.discover(capability),
      serverId: this.serverId,
      metrics: this.metrics,
      tracing,
      mcp: config.mcp.endpoint,
      mcpServers: mcp ? () => mcp.status() : undefined,
      backup: store.backup ? { store: store.backup, kind: store.kind } : undefined,
      cardsPublished: new Promise<void>((resolve, reject) => {
        this.cardsPublished = resolve;
        this.cardsAbandoned = reject;
      }),
      draining: () => this.draining,
      rateLimit: this.rateLimit,
      jwks: () => security.signingKey.jwks(),
      tls: this.security.tls,
      auth: {
        authenticator: security.authenticator,
        scopes: scopeRules(config.agents),
        peerOf: peerIdentityFromRequest,
      },
    });
  }

  /** Builds the agents (importing module agents) and the server, without listening. */
  static async create(
    config: AgentdConfig,
    logger: Logger,
    baseDir: string,
    env: NodeJS.ProcessEnv = process.env,
  ): Promise<AgentdServer> {
    // First, so a configuration that must not start (auth.required without a scheme) starts nothing.
    const authenticator = Authenticator.create({ auth: config.auth, tls: config.tls, baseDir, env, logger });
    const tracing = await Tracing.create({
      enabled: config.tracing.enabled,
      endpoint: config.tracing.endpoint,
      serviceName: 'agentd',
      version: VERSION,
    });
    // The MCP client is loaded only when MCP servers are configured. Servers start
    // connecting now; `start()` waits for their first attempt before publishing cards.
    const mcp =
      config.mcp.servers.length > 0
        ? new (await import('../mcp/mcp-pool.js')).McpPool({
            config: config.mcp,
            logger,
            tracing,
            baseDir,
            env,
          })
        : undefined;
    let security: ServerSecurity | undefined;
    try {
      // Bad keys, TLS files and allow-list entries stop the start before anything is opened.
      security = await loadServerSecurity(config, authenticator, baseDir, env, logger);
      const hosted: Array<{ config: AgentConfig; agent: HostedAgent }> = [];
      for (const a of config.agents) {
        const agent = await createHostedAgent(a, { baseDir, mcp, logger, env });
        if (agent) hosted.push({ config: a, agent });
      }
      if (hosted.length === 0)
        throw new AgentLoadError('no agent can be started (every configured agent was skipped; see the log)');
      return new AgentdServer(
        config,
        logger,
        hosted,
        await createStore(config.store, logger, config.execution),
        tracing,
        // Loaded only when monitoring is on: prom-client and its collectors are a few MB of RSS.
        config.prometheus.enabled ? (await import('../observability/metrics.js')).AgentdMetrics : undefined,
        mcp,
        security,
      );
    } catch (error) {
      if (security) await closeServerSecurity(security);
      else authenticator.close();
      await mcp?.close();
      throw error;
    }
  }

  /** Builds an agent's cards with their real URLs, signed when a signing key is configured. */
  private publish(agent: HostedAgent, cfg: AgentConfig, endpoints: Endpoints): void {
    publishCards(agent, cfg, endpoints);
    const signer = this.cardSigner;
    if (!signer) return;
    agent.card = signer.sign(agent.card);
    if (agent.extendedCard) agent.extendedCard = signer.sign(agent.extendedCard);
  }

  /** An MCP server's tools changed: the cards of agents using it are rebuilt and re-registered. */
  private toolsChanged(server: string): void {
    if (!this.endpoints) return; // before start(): cards are published there
    let changed = false;
    this.agentConfigs.forEach((cfg, i) => {
      const agent = this.agents[i];
      // Only cards built from tool lists (tools agents) change; llm agents' cards do not.
      if (!agent || cfg.kind !== 'tools' || !cfg.servers.includes(server)) return;
      this.publish(agent, cfg, this.endpoints as Endpoints);
      changed = true;
    });
    if (changed && this.started)
      void this.registration
        .register()
        .catch((error: unknown) =>
          this.logger.warn({ err: error }, 'agent registry update after an MCP tools change failed'),
        );
  }

  /**
   * Listens on the configured host and ports and publishes the agent cards. A listener
   * that cannot bind fails the start with a {@link ListenError} naming the port and its
   * setting, after closing whatever had started. A store that is unreachable does not: the
   * server starts not ready, and registers its agents once the store answers.
   */
  async start(): Promise<{ url: string; grpcAddress: string | undefined }> {
    try {
      return await this.listen();
    } catch (error) {
      await this.shutdown(0, 0).catch(() => {});
      throw error;
    }
  }

  private async listen(): Promise<{ url: string; grpcAddress: string | undefined }> {
    const { host, httpPort, publicUrl, transport, grpcPort, grpcPublicAddress } = this.config.server;
    await bound('HTTP', host, httpPort, 'server.httpPort, HTTP_PORT or --port', () =>
      this.http.app.listen({ host, port: httpPort }),
    );
    const address = this.http.app.server.address() as AddressInfo;
    const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const hostPart = reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost;
    const scheme = this.security.tls ? 'https' : 'http';
    this.baseUrl = publicUrl ?? `${scheme}://${hostPart}:${address.port}`;
    if (transport !== 'http') {
      // Loaded only when gRPC is served: grpc-js and the SDK's codec are ~15 MB of RSS.
      const { startGrpcServer } = await import('../protocol/grpc/grpc-server.js');
      const tls = this.security.tls;
      const credentials = tls
        ? (await import('../security/tls-grpc.js')).grpcServerCredentials(tls)
        : undefined;
      this.grpc = await bound('gRPC', host, grpcPort, 'server.grpcPort, GRPC_PORT or --grpc-port', () =>
        startGrpcServer(
          {
            engine: this.engine,
            logger: this.logger,
            defaultAgent: () => this.defaultAgent,
            maxMessageBytes: this.config.server.grpcMaxMessageBytes,
            keepaliveMs: this.config.server.grpcKeepaliveMs,
            compatV03: this.config.server.compatV03,
            tracing: this.tracing,
            observe: this.metrics
              ? (method, status, seconds) => this.metrics?.a2aRequest(method, 'grpc', status, seconds)
              : undefined,
            credentials,
            auth: { authenticator: this.security.authenticator, peerOf: peerIdentityFromGrpcCall },
            rateLimit: this.rateLimit,
          },
          host,
          grpcPort,
        ),
      );
      this.grpcAddr =
        grpcPublicAddress ?? `${publicUrl ? new URL(publicUrl).hostname : hostPart}:${this.grpc.port}`;
    }
    if (this.metrics) {
      const { startMetricsServer } = await import('../observability/metrics-server.js');
      const metrics = this.metrics;
      const port = this.config.prometheus.port;
      const metricsHost = this.config.prometheus.host ?? host;
      this.metricsServer = await bound(
        'metrics',
        metricsHost,
        port,
        'prometheus.port or METRICS_PORT (MONITORING_ENABLED=false turns metrics off)',
        () => startMetricsServer(metrics, metricsHost, port, { bearerToken: this.security.metricsToken }),
      );
    }
    warnIfOpen(this.security.authenticator, host, this.logger);
    const endpoints = {
      baseUrl: this.baseUrl,
      authSchemes: this.security.authenticator.schemes,
      http: transport !== 'grpc',
      grpcAddress: this.grpcAddr,
      compatV03: this.config.server.compatV03,
      defaultAgent: this.defaultAgent.name,
    };
    // Tools agents' skills are their servers' tools: wait for each server's first attempt.
    await this.mcp?.start();
    this.endpoints = endpoints;
    this.agentConfigs.forEach((cfg, i) => {
      const agent = this.agents[i];
      if (agent) this.publish(agent, cfg, endpoints);
    });
    this.cardsPublished();
    await this.registration.start();
    this.security.tls?.reloader.start();
    this.started = true;
    this.health.invalidate();
    return { url: this.baseUrl, grpcAddress: this.grpcAddr };
  }

  /** `host:port` of the Prometheus listener (after `start()`, when monitoring is on). */
  get metricsAddress(): string | undefined {
    return this.metricsServer?.address;
  }

  /** The `host:port` gRPC clients use (after `start()`, when gRPC is served). */
  get grpcAddress(): string | undefined {
    return this.grpcAddr;
  }

  /** The base URL agent cards advertise (after `start()`). */
  get url(): string {
    return this.baseUrl;
  }

  get listAgents(): readonly HostedAgent[] {
    return this.agents;
  }

  stats(): ServerStats {
    return { ...this.engine.stats(), openStreams: this.http.streams.size + (this.grpc?.openStreams() ?? 0) };
  }

  /**
   * Graceful shutdown: readiness turns 503 and new work is refused at once. The listeners
   * stay open for `server.shutdownDelayMs`, answering what arrives with 503 SHUTTING_DOWN
   * and `Connection: close` (so a load balancer removes the endpoint before connections are
   * refused), while running tasks get `drainMs` to finish (the rest are handed back to a
   * durable queue, or marked FAILED). Requests in flight are answered, their connections
   * closed after; open streams end cleanly; then the listeners close (gRPC with GOAWAY).
   * Idempotent. `delayMs` defaults to the configured delay.
   */
  shutdown(
    drainMs = this.config.server.shutdownDrainMs,
    delayMs = this.config.server.shutdownDelayMs,
  ): Promise<void> {
    this.shutdownPromise ??= (async () => {
      this.draining = true;
      this.registration.pause();
      // A card request still waiting for a start that will not finish is answered 503.
      this.cardsAbandoned(err('SHUTTING_DOWN'));
      this.health.invalidate();
      const deadline = Date.now() + Math.max(drainMs, delayMs);
      const [{ unfinished }] = await Promise.all([
        this.engine.shutdown(drainMs),
        new Promise((resolve) => setTimeout(resolve, delayMs)),
      ]);
      if (unfinished > 0)
        this.logger.warn(
          { unfinished },
          this.store.queue.durable
            ? 'drain deadline passed; unfinished tasks handed back to the queue'
            : 'drain deadline passed; unfinished tasks marked failed',
        );
      await this.registration.stop();
      this.http.closeStreams();
      this.grpc?.closeStreams();
      // gRPC gets what is left of the same deadline (at least a moment to flush), then is forced.
      await Promise.all([this.http.app.close(), this.grpc?.shutdown(Math.max(deadline - Date.now(), 250))]);
      await this.caller.close();
      await closeServerSecurity(this.security);
      await this.metricsServer?.close();
      await this.mcp?.close();
      await this.tracing.shutdown().catch(() => {});
      this.metrics?.close();
      await this.store.close();
    })();
    return this.shutdownPromise;
  }
}
