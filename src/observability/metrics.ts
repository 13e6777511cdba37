/**
 * The Prometheus metrics of a production agent deployment, with
 * its names, types, labels and buckets, plus the A2A request metrics and the
 * process defaults, on one registry per server. Label values always come from bounded
 * sets (agent names, route templates, A2A method names, catalogue codes, task states);
 * anything else (a URL, a task id, a user string) is folded into a fixed value first.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import type { LimitKind, RateLimitObserver } from '../security/rate-limit.js';
import { PeerMetrics, type PeerBreakers } from './peer-metrics.js';

/** What the engine reports, without depending on prom-client. */
export interface EngineObserver {
  /** A task started executing on this replica. */
  workflowStarted(agent: string): void;
  /** It stopped: `status` is the task state it reached (completed, failed, canceled, ...). */
  workflowEnded(agent: string, status: string, seconds: number): void;
  /** An error an agent reported (a FAILED task) or the engine raised. */
  error(type: string, component: string): void;
  /** A push notification (an A2A message agentd sends) was delivered, or given up. */
  pushDelivered(delivered: boolean, seconds: number): void;
  /** A push notification was refused because of its target (SSRF rules); `reason` is bounded. */
  pushRefused?(reason: string): void;
  /**
   * An agent's outbound A2A message (`callAgent`: SendMessage, SendStreamingMessage) was
   * answered, or failed: once per call, whatever its attempts.
   */
  messageSent(recipient: string, delivered: boolean, seconds: number, messageType?: string): void;
  /** An outbound A2A call to `peer` (an agent name) is attempted again. */
  peerRetried?(peer: string): void;
  /** A workflow step settled (`status`: completed, failed, skipped); ids come from the configuration. */
  workflowStep?(workflow: string, step: string, status: string, seconds: number): void;
  /** A router chose an agent (`target`: an agent name or `capability:<id>`; `reason`: rule, llm, skills, fallback, none). */
  routed?(router: string, target: string, reason: string): void;
}

/** The `message_type` of agents' outbound messages (bounded: anything else is SendMessage). */
const SENT_MESSAGE_TYPES = new Set(['SendMessage', 'SendStreamingMessage']);

/** The A2A bindings, as the `transport` label. */
export type A2ATransport = 'jsonrpc' | 'rest' | 'grpc';

export interface MetricsOptions {
  readonly service: string;
  readonly version: string;
  readonly environment: string;
  /** `AGENTD_REGION`, as `agent_info`'s region label (empty when unset). */
  readonly region?: string | undefined;
  /** Tasks executing now on this replica (read at scrape time). */
  readonly activeWorkflows: () => number;
  /** Tasks waiting for a worker, as this replica last saw the queue (read at scrape time). */
  readonly queueDepth?: () => number;
  /** `execution.maxQueueDepth`: a new task is refused with QUEUE_FULL once its agent's queue holds this many. */
  readonly maxQueueDepth?: number;
  /** The state store (`memory` or `redis`) and whether it answers now (checked at scrape time). */
  readonly store?: { readonly kind: string; readonly up: () => Promise<boolean> };
  /** How often memory and CPU are sampled. */
  readonly sampleEveryMs?: number;
  /** The circuit breaker of each peer agent called (read at scrape time). */
  readonly peerBreakers?: PeerBreakers;
}

/** The `reason` label values of refused push notifications (see security/ssrf-guard.ts). */
const PUSH_REFUSAL_REASONS = new Set([
  'loopback',
  'private',
  'link_local',
  'cgnat',
  'multicast',
  'unspecified',
  'metadata',
  'reserved',
  'redirect',
  'unresolvable',
]);

/** Custom metric names agents may create: lower snake case, not one of ours. */
const CUSTOM_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** At most this many custom metrics (each is a series: the registry stays bounded). */
const MAX_CUSTOM = 100;

/**
 * `mcp_tool_duration_seconds` buckets: the standard 0.1 … 10 s, then up to the 300 s MCP call
 * timeout (`MCP_SERVER_TIMEOUT`), so a p95 above 10 s (the MCPToolCallLatency alert threshold) is
 * measurable instead of stuck at the top finite bucket.
 */
export const MCP_TOOL_BUCKETS = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30, 60, 120, 300];

/** `a2a_message_latency_seconds` buckets: an A2A exchange is milliseconds, not seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Business metrics agents record through `requestContext.metrics` (and agentd itself, for
 * the standard `customer_satisfaction_score`). Gauges and counters without labels, created on
 * first use, at most {@link MAX_CUSTOM} of them.
 */
export class BusinessMetrics {
  private readonly gauges = new Map<string, Gauge>();
  private readonly counters = new Map<string, Counter>();
  private readonly means = new Map<string, { sum: number; count: number }>();

  constructor(private readonly registry: Registry) {}

  /** Sets a gauge. */
  set(name: string, value: number, help = `Business metric ${name}`): void {
    this.gauge(name, help).set(value);
  }

  /** Adds to a counter (default 1). */
  inc(name: string, by = 1, help = `Business metric ${name}`): void {
    let c = this.counters.get(name);
    if (!c) {
      this.check(name);
      c = new Counter({ name, help, registers: [this.registry] });
      this.counters.set(name, c);
    }
    c.inc(by);
  }

  /** Folds a value into a gauge that shows the running mean of every value recorded. */
  recordMean(name: string, value: number, help = `Average of ${name}`): void {
    const m = this.means.get(name) ?? { sum: 0, count: 0 };
    m.sum += value;
    m.count++;
    this.means.set(name, m);
    this.gauge(name, help).set(m.sum / m.count);
  }

  private gauge(name: string, help: string): Gauge {
    let g = this.gauges.get(name);
    if (!g) {
      this.check(name);
      g = new Gauge({ name, help, registers: [this.registry] });
      this.gauges.set(name, g);
    }
    return g;
  }

  private check(name: string): void {
    if (!CUSTOM_NAME.test(name)) {
      throw new Error(`Metric name "${name}" must match ${CUSTOM_NAME.source}`);
    }
    if (this.registry.getSingleMetric(name)) throw new Error(`Metric "${name}" already exists`);
    if (this.gauges.size + this.counters.size >= MAX_CUSTOM) {
      throw new Error(`At most ${MAX_CUSTOM} business metrics can be created`);
    }
  }
}

export class AgentdMetrics implements EngineObserver, RateLimitObserver {
  readonly registry = new Registry();
  readonly business: BusinessMetrics;

  readonly httpRequests: FastCounter;
  readonly httpDuration: FastHistogram;
  readonly workflowExecutions: FastCounter;
  readonly workflowDuration: FastHistogram;
  readonly workflowSteps: FastCounter;
  readonly workflowStepDuration: FastHistogram;
  readonly routes: FastCounter;
  readonly discoveryRequests: FastCounter;
  readonly mcpToolCalls: FastCounter;
  readonly mcpToolDuration: FastHistogram;
  readonly a2aSent: FastCounter;
  /** Push notifications refused because of their target, by reason (a bounded set). */
  readonly pushRefusals: FastCounter;
  readonly a2aReceived: FastCounter;
  readonly a2aLatency: FastHistogram;
  readonly a2aRequests: FastCounter;
  readonly a2aRequestDuration: FastHistogram;
  readonly errors: FastCounter;
  private readonly rateLimitedTotal: Counter;
  private readonly rateLimitStoreErrors: Counter;
  private readonly peers: PeerMetrics;
  private readonly memory: Gauge;
  private readonly cpu: Gauge;
  private readonly sampler: NodeJS.Timeout;
  private lastCpu = process.cpuUsage();
  private lastSampleAt = performance.now();

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client also exports these gauges under a `_total` name, which Prometheus reserves
    // for counters (promtool rejects it); the same values stay without the suffix.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      this.registry.removeSingleMetric(name);
    const info = new Gauge({
      name: 'agent_info',
      help: 'Agent system information',
      // `region` only when the server has one: an empty label is no label to Prometheus.
      labelNames: options.region
        ? ['service', 'version', 'environment', 'region']
        : ['service', 'version', 'environment'],
      registers,
    });
    info.set(
      {
        service: options.service,
        version: options.version,
        environment: options.environment,
        ...(options.region ? { region: options.region } : {}),
      },
      1,
    );

    this.httpRequests = new FastCounter('http_requests_total', 'Total HTTP requests', [
      'method',
      'endpoint',
      'status_code',
    ]);
    this.httpDuration = new FastHistogram(
      'http_request_duration_seconds',
      'HTTP request duration in seconds',
      ['method', 'endpoint'],
      [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
    );
    new Gauge({
      name: 'active_workflows',
      help: 'Number of currently active workflows',
      registers,
      collect() {
        this.set(options.activeWorkflows());
      },
    });
    this.workflowExecutions = new FastCounter('workflow_executions_total', 'Total workflow executions', [
      'workflow_type',
      'status',
    ]);
    this.workflowDuration = new FastHistogram(
      'workflow_duration_seconds',
      'Workflow execution duration in seconds',
      ['workflow_type'],
      [1, 5, 10, 30, 60, 300, 600, 1800],
    );
    this.workflowSteps = new FastCounter(
      'agentd_workflow_steps_total',
      'Workflow steps that settled, by workflow, step id and outcome',
      ['workflow', 'step', 'status'],
    );
    this.workflowStepDuration = new FastHistogram(
      'agentd_workflow_step_duration_seconds',
      'How long workflow steps took, retries included',
      ['workflow', 'step'],
      [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600],
    );
    this.routes = new FastCounter(
      'agentd_router_routes_total',
      'Messages routers sent on, by router, chosen agent and why it was chosen',
      ['router', 'target', 'reason'],
    );
    this.discoveryRequests = new FastCounter(
      'agent_discovery_requests_total',
      'Total agent discovery requests',
      ['capability', 'status'],
    );
    this.mcpToolCalls = new FastCounter('mcp_tool_calls_total', 'Total MCP tool calls', [
      'server',
      'tool',
      'status',
    ]);
    this.mcpToolDuration = new FastHistogram(
      'mcp_tool_duration_seconds',
      'MCP tool call duration in seconds',
      ['server', 'tool'],
      MCP_TOOL_BUCKETS,
    );
    this.pushRefusals = new FastCounter(
      'push_notifications_refused_total',
      'Push notifications refused because of their target (loopback, private, metadata, redirect, ...)',
      ['reason'],
    );
    this.a2aSent = new FastCounter('a2a_messages_sent_total', 'Total A2A messages sent', [
      'message_type',
      'recipient',
    ]);
    this.a2aReceived = new FastCounter('a2a_messages_received_total', 'Total A2A messages received', [
      'message_type',
      'sender',
    ]);
    this.a2aLatency = new FastHistogram(
      'a2a_message_latency_seconds',
      'A2A message latency in seconds: a received SendMessage until its answer, a sent message (push notification) until it was delivered',
      ['message_type'],
      LATENCY_BUCKETS,
    );
    this.a2aRequests = new FastCounter(
      'a2a_requests_total',
      'Total A2A requests, every operation on every transport',
      ['method', 'transport', 'status'],
    );
    this.a2aRequestDuration = new FastHistogram(
      'a2a_request_duration_seconds',
      'A2A request latency in seconds (streams: until the stream ends)',
      ['method', 'transport', 'status'],
      LATENCY_BUCKETS,
    );
    this.queueGauges(options);
    this.peers = new PeerMetrics(this.registry, options.peerBreakers);
    this.memory = new Gauge({ name: 'memory_usage_bytes', help: 'Current memory usage in bytes', registers });
    this.cpu = new Gauge({ name: 'cpu_usage_percent', help: 'Current CPU usage percentage', registers });
    this.errors = new FastCounter('errors_total', 'Total errors', ['error_type', 'component']);
    this.rateLimitedTotal = new Counter({
      name: 'agentd_rate_limited_total',
      help: 'Requests refused by a rate limit (limit: ip or principal; agent: the agent whose own limit refused it, else empty)',
      labelNames: ['limit', 'agent'],
      registers,
    });
    this.rateLimitStoreErrors = new Counter({
      name: 'agentd_rate_limit_store_errors_total',
      help: 'Rate-limit checks passed without their store (Redis) answering (fail open; an HTTP request makes up to two: address, then principal)',
      registers,
    });
    this.business = new BusinessMetrics(this.registry);
    this.business.set('customer_satisfaction_score', 0, 'Average customer satisfaction score');
    this.sample();
    this.sampler = setInterval(() => this.sample(), options.sampleEveryMs ?? 5000);
    this.sampler.unref();
  }

  /** Queue depth, its limit and the store's availability: agentd's own series (`agentd_` prefix). */
  private queueGauges(options: MetricsOptions): void {
    const registers = [this.registry];
    const { queueDepth, maxQueueDepth, store } = options;
    if (queueDepth)
      new Gauge({
        name: 'agentd_queue_depth',
        help: 'Tasks waiting for a worker, as this replica last saw the queue',
        registers,
        collect() {
          this.set(queueDepth());
        },
      });
    if (maxQueueDepth !== undefined)
      new Gauge({
        name: 'agentd_queue_max_depth',
        help: 'Configured execution.maxQueueDepth: new tasks are refused (QUEUE_FULL) once an agent queue holds this many',
        registers,
      }).set(maxQueueDepth);
    if (store)
      new Gauge({
        name: 'agentd_store_up',
        help: 'Whether the state store answered a ping at scrape time (1) or not (0)',
        labelNames: ['store'],
        registers,
        async collect() {
          this.set({ store: store.kind }, (await store.up()) ? 1 : 0);
        },
      });
  }

  workflowStarted(agent: string): void {
    this.workflowExecutions.inc([agent, 'started']);
  }

  workflowEnded(agent: string, status: string, seconds: number): void {
    this.workflowExecutions.inc([agent, status]);
    if (status === 'completed' || status === 'failed') this.workflowDuration.observe([agent], seconds);
  }

  workflowStep(workflow: string, step: string, status: string, seconds: number): void {
    this.workflowSteps.inc([workflow, step, status]);
    if (status !== 'skipped') this.workflowStepDuration.observe([workflow, step], seconds);
  }

  routed(router: string, target: string, reason: string): void {
    // Targets are configured names or registered agents; a store shared with many servers is capped.
    if (!this.routeTargets.has(target) && this.routeTargets.size < 200) this.routeTargets.add(target);
    this.routes.inc([router, this.routeTargets.has(target) ? target : 'other', reason]);
  }

  private readonly routeTargets = new Set<string>();

  /** An HTTP request ended (labels: a route template, never the URL). */
  httpRequest(method: string, endpoint: string, statusCode: number, seconds: number): void {
    this.httpRequests.inc([method, endpoint, String(statusCode)]);
    this.httpDuration.observe([method, endpoint], seconds);
  }

  error(type: string, component: string): void {
    this.errors.inc([type, component]);
  }

  /** An MCP tool call ended (`status`: success, tool_error, timeout, unavailable, ...). */
  mcpToolCall(server: string, tool: string, status: string, seconds: number): void {
    this.mcpToolCalls.inc([server, tool, status]);
    this.mcpToolDuration.observe([server, tool], seconds);
  }

  messageSent(recipient: string, delivered: boolean, seconds: number, messageType = 'SendMessage'): void {
    if (delivered) {
      const type = SENT_MESSAGE_TYPES.has(messageType) ? messageType : 'SendMessage';
      this.a2aSent.inc([type, this.peers.label(recipient)]);
      this.a2aLatency.observe([type], seconds);
    } else {
      this.errors.inc(['A2A_CALL_FAILED', 'client']);
    }
  }

  peerRetried(peer: string): void {
    this.peers.retried(peer);
  }

  pushDelivered(delivered: boolean, seconds: number): void {
    if (delivered) {
      this.a2aSent.inc(['push_notification', 'webhook']);
      this.a2aLatency.observe(['push_notification'], seconds);
    } else {
      this.errors.inc(['PUSH_DELIVERY_FAILED', 'push']);
    }
  }

  pushRefused(reason: string): void {
    this.pushRefusals.inc([PUSH_REFUSAL_REASONS.has(reason) ? reason : 'other']);
  }

  /** One A2A operation as a transport served it (`status`: ok or the catalogue code). */
  a2aRequest(method: string, transport: A2ATransport, status: string, seconds: number): void {
    this.a2aRequests.inc([method, transport, status]);
    this.a2aRequestDuration.observe([method, transport, status], seconds);
    this.a2aReceived.inc([method, 'client']);
    if (status !== 'ok') this.errors.inc([status, transport]);
    else if (method === 'SendMessage') this.a2aLatency.observe([method], seconds);
  }

  /** A request refused by a rate limit (`agent`: a configured agent name, or ''). */
  rateLimited(limit: LimitKind, agent: string): void {
    this.rateLimitedTotal.inc({ limit, agent });
  }

  /** The rate limiter's store failed; the request went on unchecked. */
  rateLimitStoreError(): void {
    this.rateLimitStoreErrors.inc();
  }

  /** A discovery lookup (`capability` already folded to a bounded value). */
  discovery(capability: string, status: string): void {
    this.discoveryRequests.inc([capability, status]);
  }

  /** The exposition, in the Prometheus text format. */
  async exposition(): Promise<string> {
    return (await this.registry.metrics()) + this.fast.map((m) => m.render()).join('');
  }

  /** The hot-path metrics, rendered after the registry's. */
  private get fast(): Array<FastCounter | FastHistogram> {
    return [
      this.httpRequests,
      this.httpDuration,
      this.workflowExecutions,
      this.workflowDuration,
      this.workflowSteps,
      this.workflowStepDuration,
      this.routes,
      this.discoveryRequests,
      this.mcpToolCalls,
      this.mcpToolDuration,
      this.a2aSent,
      this.pushRefusals,
      this.a2aReceived,
      this.a2aLatency,
      this.a2aRequests,
      this.a2aRequestDuration,
      this.errors,
    ];
  }

  close(): void {
    clearInterval(this.sampler);
  }

  private sample(): void {
    const now = performance.now();
    const usage = process.cpuUsage(this.lastCpu);
    const elapsedUs = (now - this.lastSampleAt) * 1000;
    if (elapsedUs > 0) this.cpu.set(Math.round(((usage.user + usage.system) / elapsedUs) * 1000) / 10);
    this.lastCpu = process.cpuUsage();
    this.lastSampleAt = now;
    this.memory.set(process.memoryUsage().rss);
  }
}
