/**
 * The configuration schema. YAML, environment variables and CLI flags all end up here;
 * zod validates once at the boundary and the rest of the code trusts the typed result.
 */
import { z } from 'zod';
import {
  authSchema,
  cardSigningSchema,
  outboundSchema,
  rateLimitSchema,
  secretSchema,
  tlsSchema,
  webhookFields,
} from './security-schema.js';
import { agentSchema, mcpServerSchema, type skillSchema } from './agent-schema.js';
import { WorkflowPlan } from '../workflow/plan.js';
import { WorkflowDefinitionError } from '../workflow/validate.js';

const MiB = 1024 * 1024;

/** `host:port` (a bracketed IPv6 host allowed) of a Redis Cluster node or a Sentinel, parsed. */
const redisHostPort = z.string().transform((text, ctx) => {
  const m = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65_535) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not host:port (e.g. redis-0.redis:6379)` });
    return z.NEVER;
  }
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
});

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        httpPort: z.number().int().min(0).max(65_535).default(8080),
        /** Base URL clients use to reach this server (for agent cards); default derived from host and port. */
        publicUrl: z.url().optional(),
        /**
         * The region this server runs in (`AGENTD_REGION`): in logs, on `agent_info`, on its
         * registry entries; calls by capability prefer agents of the same region.
         */
        region: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" or "-" (at most 63)')
          .optional(),
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .default(10 * MiB),
        sseKeepAliveMs: z.number().int().min(100).default(15_000),
        // Limits against slow and greedy clients. A client that trickles its headers or body
        // (slowloris) holds a socket and parser state for as long as the server lets it.
        /** Time to receive the request headers. 10 s is ample for any real client (nginx: 60 s, but per read). */
        httpHeadersTimeoutMs: z.number().int().min(100).default(10_000),
        /**
         * Time to receive the whole request, body included: 30 s moves the 10 MiB default body
         * limit at ~350 KB/s. Responses (SSE streams, long blocking calls) are not limited by it.
         */
        httpRequestTimeoutMs: z.number().int().min(100).default(30_000),
        /**
         * How long an idle keep-alive connection stays open between requests. 65 s outlasts the
         * 60 s idle timeout of common load balancers (AWS ALB, GCP, nginx upstreams), so the
         * proxy closes first and never reuses a connection we are closing.
         */
        httpKeepAliveTimeoutMs: z.number().int().min(1000).default(65_000),
        /**
         * A connection with no traffic at all in either direction for this long is closed. 300 s:
         * a blocking SendMessage may wait that long on an MCP tool (MCP_SERVER_TIMEOUT); SSE
         * streams send keep-alives well within it. 0 turns it off.
         */
        httpIdleTimeoutMs: z.number().int().min(0).default(300_000),
        /** Open HTTP connections at most; more are closed on accept. 10,000 sockets stay well under a default 65,536 fd limit. */
        httpMaxConnections: z.number().int().min(1).default(10_000),
        shutdownDrainMs: z.number().int().min(0).default(10_000),
        /**
         * On SIGTERM readiness turns 503 at once, but the listeners stay open this long (and
         * answer what arrives with 503 SHUTTING_DOWN and `Connection: close`), so a load
         * balancer removes the endpoint before connections are refused. Runs alongside the
         * task drain; Kubernetes' terminationGracePeriodSeconds must cover both.
         */
        shutdownDelayMs: z.number().int().min(0).default(5000),
        /** Serve v0.3 clients through the SDK's compat layer. */
        compatV03: z.boolean().default(true),
        /** Which A2A bindings to serve: `http` (JSON-RPC + REST), `grpc`, or `both`. Cards and probes are always on HTTP. */
        transport: z.enum(['http', 'grpc', 'both']).default('both'),
        grpcPort: z.number().int().min(0).max(65_535).default(8081),
        /** `host:port` clients use for gRPC (for agent cards); default derived from publicUrl or host, and grpcPort. */
        grpcPublicAddress: z.string().min(3).optional(),
        grpcMaxMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(10 * MiB),
        /** Keep-alive ping interval on gRPC connections, so long-lived streams survive idle proxies. */
        grpcKeepaliveMs: z.number().int().min(1000).default(30_000),
      })
      .prefault({})
      .refine((server) => server.httpHeadersTimeoutMs <= server.httpRequestTimeoutMs, {
        path: ['httpHeadersTimeoutMs'],
        message: 'must not exceed httpRequestTimeoutMs (the headers are part of the request)',
      }),
    store: z
      .strictObject({
        /** `memory` (embedded, one process) or `redis` (shared by every replica). */
        kind: z.enum(['memory', 'redis']).default('memory'),
        redis: z
          .strictObject({
            /** `redis://[:password@]host:port[/db]`, or `rediss://` for TLS; overrides host/port/password/db. */
            url: z
              .string()
              .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
              .optional(),
            host: z.string().min(1).default('localhost'),
            port: z.number().int().min(1).max(65_535).default(6379),
            password: z.string().optional(),
            db: z.number().int().min(0).default(0),
            tls: z.boolean().default(false),
            /** Prepended to every key, so several deployments can share one Redis. */
            keyPrefix: z.string().default('agentd:'),
            /**
             * Open streams share a few blocking Redis connections (one per 256 streams) instead
             * of holding one each.
             */
            sharedStreamReader: z.boolean().default(true),
            /** A Redis Cluster: some of its nodes (the client discovers the rest); uses password and tls. */
            cluster: z
              .strictObject({
                nodes: z.array(redisHostPort).min(1, 'list at least one node as host:port'),
              })
              .optional(),
            /** A master found through Redis Sentinel; uses password (the master's), db and tls. */
            sentinel: z
              .strictObject({
                sentinels: z.array(redisHostPort).min(1, 'list at least one Sentinel as host:port'),
                /** The master's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
                name: z.string().min(1),
                /** The Sentinels' own password, when they have one. */
                password: z.string().optional(),
              })
              .optional(),
            /**
             * When > 0, task creations, saves, run commits and queue pushes wait (Redis WAIT) until
             * this many replicas have them before the client is answered, so a failover loses
             * no acknowledged task. Costs a round trip per write; 0 (off) by default.
             */
            waitReplicas: z.number().int().min(0).max(16).default(0),
            /** How long one such wait may take; past it the write stands, unconfirmed. */
            waitTimeoutMs: z.number().int().min(1).default(500),
          })
          .superRefine((redis, ctx) => {
            if (redis.cluster && redis.sentinel) {
              ctx.addIssue({
                code: 'custom',
                path: ['sentinel'],
                message: 'set cluster or sentinel, not both',
              });
            }
            if (redis.cluster && redis.db !== 0) {
              ctx.addIssue({ code: 'custom', path: ['db'], message: 'a Redis Cluster has only database 0' });
            }
            if ((redis.cluster || redis.sentinel) && redis.url) {
              ctx.addIssue({
                code: 'custom',
                path: ['url'],
                message: `names one server: leave it out with ${redis.cluster ? 'cluster' : 'sentinel'} (set password and tls instead)`,
              });
            }
          })
          .prefault({}),
        retention: z
          .strictObject({
            ttlSeconds: z.number().min(0.01).default(3600),
            maxTerminalTasks: z.number().int().min(1).default(10_000),
            /**
             * Embedded store: finished tasks kept weigh at most this many bytes (their
             * snapshots and events, approximately); the oldest go first. Redis: bound its
             * memory with maxTerminalTasks and Redis's own maxmemory.
             */
            maxTerminalBytes: z
              .number()
              .int()
              .min(1024 * 1024)
              .default(256 * MiB),
            /**
             * Redis: a finished task's event stream is dropped this long after the task ended
             * (the snapshot keeps the outcome); resuming a stream later gets the final task.
             */
            closedStreamSeconds: z.number().min(0).default(30),
          })
          .prefault({}),
        maxEventsPerTask: z.number().int().min(10).default(10_000),
      })
      .prefault({}),
    /** What one request or one task may hold: bad input and runaway agents stop here. */
    limits: z
      .strictObject({
        /** Nesting depth of metadata and data values, in requests and in what agents publish. */
        maxDepth: z.number().int().min(2).max(1000).default(32),
        /** One event an agent publishes (a status update, an artifact or chunk), approximate bytes. */
        maxEventBytes: z
          .number()
          .int()
          .min(1024)
          .default(10 * MiB),
        /** Everything an agent publishes for one task, approximate bytes; past it the task fails. */
        maxTaskBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * MiB),
      })
      .prefault({}),
    execution: z
      .strictObject({
        maxConcurrentWorkflows: z.number().int().min(1).default(50),
        /** Tasks of one agent waiting for a worker (across replicas) before new ones get QUEUE_FULL. */
        maxQueueDepth: z.number().int().min(0).default(1000),
        cancelGraceMs: z.number().int().min(0).default(2000),
        /**
         * Redis: a replica renews the leases of the tasks it runs; when it dies, another takes
         * its tasks over within leaseSeconds + min(5 s, leaseSeconds / 5) (30 s by default).
         */
        leaseSeconds: z.number().min(0.1).default(25),
        /** Runs of one task (takeovers included) before it is marked FAILED instead of re-run. */
        maxAttempts: z.number().int().min(1).default(3),
        /**
         * A message whose messageId was accepted before (same agent, tenant and task) is
         * answered from what it produced instead of running again. Off saves one store write
         * per message (a Redis round trip) for clients that never retry.
         */
        dedupeMessageIds: z.boolean().default(true),
        /** Tasks one principal may have in flight (queued or running) at once; 0: no cap. */
        maxTasksPerPrincipal: z.number().int().min(0).default(0),
      })
      .prefault({}),
    push: z
      .strictObject({
        maxAttempts: z.number().int().min(1).max(20).default(3),
        baseDelayMs: z.number().int().min(1).default(500),
        timeoutMs: z.number().int().min(100).default(5000),
        maxPendingPerTarget: z.number().int().min(1).default(1000),
        ...webhookFields,
      })
      .prefault({}),
    logging: z.strictObject({ level: logLevel.default('info') }).prefault({}),
    /** OpenTelemetry tracing: on with an OTLP endpoint (spans exported) or `enabled` (spans dropped). */
    tracing: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** OTLP/HTTP base URL, e.g. http://otel-collector:4318 (OTEL_EXPORTER_OTLP_ENDPOINT). */
        endpoint: z.url().optional(),
      })
      .prefault({}),
    /** Prometheus metrics at `/metrics` on their own port (9090 by default). */
    prometheus: z
      .strictObject({
        /** `false` (or MONITORING_ENABLED=false) turns the listener off. */
        enabled: z.boolean().default(true),
        port: z.number().int().min(0).max(65_535).default(9090),
        /** The `environment` label of `agent_info`. */
        environment: z.string().min(1).default('production'),
        /** Address the metrics listener binds (METRICS_HOST); default server.host. */
        host: z.string().min(1).optional(),
        /** When set, `/metrics` requires `Authorization: Bearer <token>` (METRICS_TOKEN). */
        bearerToken: secretSchema.optional(),
      })
      .prefault({}),
    /** MCP servers agents use (`tools` and `llm` agents), and how agentd talks to them. */
    mcp: z
      .strictObject({
        /** Per-call timeout (the ConfigMap's `mcp.server.timeout`, MCP_SERVER_TIMEOUT); servers may override. */
        timeoutSeconds: z.number().min(0.01).default(300),
        /** How long one connection attempt (spawn/handshake and tools/list) may take. */
        connectTimeoutSeconds: z.number().min(0.1).default(10),
        /** Reconnect backoff: first delay, doubling up to the max, with jitter; retries never stop. */
        reconnectBaseMs: z.number().int().min(10).default(500),
        reconnectMaxMs: z.number().int().min(10).default(30_000),
        /** Ping each connected server this often; a failed ping marks it down and reconnects (0: off). */
        pingIntervalSeconds: z.number().min(0).default(15),
        breaker: z
          .strictObject({
            /** Consecutive failed calls (timeouts, transport errors, crashes) that open a server's breaker. */
            failures: z.number().int().min(1).default(5),
            /** How long an open breaker fails calls fast before letting one through (half-open). */
            halfOpenAfterSeconds: z.number().min(0.01).default(30),
          })
          .prefault({}),
        /** Serve the hosted agents' skills as MCP tools at `/mcp` on the HTTP port. */
        endpoint: z.boolean().default(true),
        servers: z.array(mcpServerSchema).default([]),
      })
      .prefault({}),
    auth: authSchema,
    tls: tlsSchema,
    rateLimits: rateLimitSchema,
    cardSigning: cardSigningSchema,
    outbound: outboundSchema,
    registry: z
      .strictObject({
        /** How often this server re-registers its agents; entries expire after 3 missed beats. */
        heartbeatSeconds: z.number().min(0.05).default(30),
        /**
         * How a call by capability (workflow `capability:` steps, `ctx.call({ capability })`,
         * router routes) chooses among the agents that have it; agents whose circuit breaker
         * is open are skipped either way.
         */
        pick: z.enum(['round-robin', 'least-loaded']).default('round-robin'),
      })
      .prefault({}),
    agents: z
      .array(agentSchema)
      .min(1, 'must define at least one agent')
      .superRefine((agents, ctx) => {
        const seen = new Set<string>();
        agents.forEach((a, i) => {
          if (seen.has(a.name))
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${a.name}" is used twice` });
          seen.add(a.name);
          // Checks across steps (targets, needs, cycles, templates), reported at the field's path.
          // zod runs this even when a field of the agent broke a bound (the types still hold), so
          // an empty step list, already reported, is not reported again.
          if (a.kind === 'workflow' && a.steps.length > 0) {
            a.steps.forEach((step, j) => {
              if (step.agent === a.name)
                ctx.addIssue({
                  code: 'custom',
                  path: [i, 'steps', j, 'agent'],
                  message: `a workflow cannot call itself ("${a.name}")`,
                });
            });
            try {
              WorkflowPlan.from(a);
            } catch (error) {
              if (!(error instanceof WorkflowDefinitionError)) throw error;
              ctx.addIssue({ code: 'custom', path: [i, ...error.path], message: error.reason });
            }
          }
        });
        if (agents.filter((a) => a.default).length > 1) {
          ctx.addIssue({ code: 'custom', message: 'at most one agent may be marked default: true' });
        }
      }),
  })
  .superRefine((config, ctx) => {
    const servers = new Set<string>();
    config.mcp.servers.forEach((s, i) => {
      if (servers.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['mcp', 'servers', i, 'name'],
          message: `"${s.name}" is used twice`,
        });
      servers.add(s.name);
    });
    config.agents.forEach((a, i) => {
      if (a.kind !== 'tools' && a.kind !== 'llm') return;
      a.servers.forEach((name, j) => {
        if (!servers.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['agents', i, 'servers', j],
            message: `no MCP server "${name}" in mcp.servers (${[...servers].join(', ') || 'none configured'})`,
          });
      });
    });
  });

export type AgentdConfig = z.infer<typeof configSchema>;
export type AgentConfig = AgentdConfig['agents'][number];
export type SkillConfig = z.infer<typeof skillSchema>;
export type McpConfig = AgentdConfig['mcp'];
export type McpServerConfig = McpConfig['servers'][number];
export type SecretRef = z.infer<typeof secretSchema>;
