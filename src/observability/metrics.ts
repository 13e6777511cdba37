/**
 * The Prometheus metrics of the first seed ("Part 2: Monitoring and Observability"), with
 * its names, types, labels and buckets, plus the second seed's A2A request metrics and the
 * process defaults, on one registry per server. Label values always come from bounded
 * sets (agent names, route templates, A2A method names, catalogue codes, task states);
 * anything else (a URL, a task id, a user string) is folded into a fixed value first.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  /** An agent's outbound A2A message (`callAgent`) was answered, or failed. */
  messageSent(recipient: string, delivered: boolean, seconds: number): void;
}

/** The A2A bindings, as the `transport` label. */
export type A2ATransport = 'jsonrpc' | 'rest' | 'grpc';

export interface MetricsOptions {
  readonly service: string;
  readonly version: string;
  readonly environment: string;
  /** Tasks executing now on this replica (read at scrape time). */
  readonly activeWorkflows: () => number;
  /** How often memory and CPU are sampled. */
  readonly sampleEveryMs?: number;
}

/** Custom metric names agents may create: lower snake case, not one of ours. */
const CUSTOM_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** At most this many custom metrics (each is a series: the registry stays bounded). */
const MAX_CUSTOM = 100;

/** `a2a_message_latency_seconds` buckets: an A2A exchange is milliseconds, not seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Business metrics agents record through `requestContext.metrics` (and agentd itself, for
 * the seed's `customer_satisfaction_score`). Gauges and counters without labels, created on
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

export class AgentdMetrics implements EngineObserver {
  readonly registry = new Registry();
  readonly business: BusinessMetrics;

  readonly httpRequests: Counter<'method' | 'endpoint' | 'status_code'>;
  readonly httpDuration: Histogram<'method' | 'endpoint'>;
  readonly workflowExecutions: Counter<'workflow_type' | 'status'>;
  readonly workflowDuration: Histogram<'workflow_type'>;
  readonly discoveryRequests: Counter<'capability' | 'status'>;
  readonly mcpToolCalls: Counter<'server' | 'tool' | 'status'>;
  readonly mcpToolDuration: Histogram<'server' | 'tool'>;
  readonly a2aSent: Counter<'message_type' | 'recipient'>;
  readonly a2aReceived: Counter<'message_type' | 'sender'>;
  readonly a2aLatency: Histogram<'message_type'>;
  readonly a2aRequests: Counter<'method' | 'transport' | 'status'>;
  readonly a2aRequestDuration: Histogram<'method' | 'transport' | 'status'>;
  readonly errors: Counter<'error_type' | 'component'>;
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
      labelNames: ['service', 'version', 'environment'],
      registers,
    });
    info.set({ service: options.service, version: options.version, environment: options.environment }, 1);

    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'Total HTTP requests',
      labelNames: ['method', 'endpoint', 'status_code'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      labelNames: ['method', 'endpoint'],
      buckets: [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
      registers,
    });
    new Gauge({
      name: 'active_workflows',
      help: 'Number of currently active workflows',
      registers,
      collect() {
        this.set(options.activeWorkflows());
      },
    });
    this.workflowExecutions = new Counter({
      name: 'workflow_executions_total',
      help: 'Total workflow executions',
      labelNames: ['workflow_type', 'status'],
      registers,
    });
    this.workflowDuration = new Histogram({
      name: 'workflow_duration_seconds',
      help: 'Workflow execution duration in seconds',
      labelNames: ['workflow_type'],
      buckets: [1, 5, 10, 30, 60, 300, 600, 1800],
      registers,
    });
    this.discoveryRequests = new Counter({
      name: 'agent_discovery_requests_total',
      help: 'Total agent discovery requests',
      labelNames: ['capability', 'status'],
      registers,
    });
    this.mcpToolCalls = new Counter({
      name: 'mcp_tool_calls_total',
      help: 'Total MCP tool calls',
      labelNames: ['server', 'tool', 'status'],
      registers,
    });
    this.mcpToolDuration = new Histogram({
      name: 'mcp_tool_duration_seconds',
      help: 'MCP tool call duration in seconds',
      labelNames: ['server', 'tool'],
      buckets: [0.1, 0.5, 1.0, 2.0, 5.0, 10.0],
      registers,
    });
    this.a2aSent = new Counter({
      name: 'a2a_messages_sent_total',
      help: 'Total A2A messages sent',
      labelNames: ['message_type', 'recipient'],
      registers,
    });
    this.a2aReceived = new Counter({
      name: 'a2a_messages_received_total',
      help: 'Total A2A messages received',
      labelNames: ['message_type', 'sender'],
      registers,
    });
    this.a2aLatency = new Histogram({
      name: 'a2a_message_latency_seconds',
      help: 'A2A message latency in seconds: a received SendMessage until its answer, a sent message (push notification) until it was delivered',
      labelNames: ['message_type'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.a2aRequests = new Counter({
      name: 'a2a_requests_total',
      help: 'Total A2A requests, every operation on every transport',
      labelNames: ['method', 'transport', 'status'],
      registers,
    });
    this.a2aRequestDuration = new Histogram({
      name: 'a2a_request_duration_seconds',
      help: 'A2A request latency in seconds (streams: until the stream ends)',
      labelNames: ['method', 'transport', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.memory = new Gauge({ name: 'memory_usage_bytes', help: 'Current memory usage in bytes', registers });
    this.cpu = new Gauge({ name: 'cpu_usage_percent', help: 'Current CPU usage percentage', registers });
    this.errors = new Counter({
      name: 'errors_total',
      help: 'Total errors',
      labelNames: ['error_type', 'component'],
      registers,
    });
    this.business = new BusinessMetrics(this.registry);
    this.business.set('customer_satisfaction_score', 0, 'Average customer satisfaction score');
    this.sample();
    this.sampler = setInterval(() => this.sample(), options.sampleEveryMs ?? 5000);
    this.sampler.unref();
  }

  workflowStarted(agent: string): void {
    this.counter(this.workflowExecutions, agent, 'started').inc();
  }

  workflowEnded(agent: string, status: string, seconds: number): void {
    this.counter(this.workflowExecutions, agent, status).inc();
    if (status === 'completed' || status === 'failed')
      this.histogram(this.workflowDuration, agent).observe(seconds);
  }

  /** An HTTP request ended (labels: a route template, never the URL). */
  httpRequest(method: string, endpoint: string, statusCode: number, seconds: number): void {
    this.counter(this.httpRequests, method, endpoint, String(statusCode)).inc();
    this.histogram(this.httpDuration, method, endpoint).observe(seconds);
  }

  error(type: string, component: string): void {
    this.errors.inc({ error_type: type, component });
  }

  messageSent(recipient: string, delivered: boolean, seconds: number): void {
    if (delivered) {
      this.counter(this.a2aSent, 'SendMessage', recipient).inc();
      this.histogram(this.a2aLatency, 'SendMessage').observe(seconds);
    } else {
      this.counter(this.errors, 'A2A_CALL_FAILED', 'client').inc();
    }
  }

  pushDelivered(delivered: boolean, seconds: number): void {
    if (delivered) {
      this.a2aSent.inc({ message_type: 'push_notification', recipient: 'webhook' });
      this.a2aLatency.observe({ message_type: 'push_notification' }, seconds);
    } else {
      this.errors.inc({ error_type: 'PUSH_DELIVERY_FAILED', component: 'push' });
    }
  }

  /** One A2A operation as a transport served it (`status`: ok or the catalogue code). */
  a2aRequest(method: string, transport: A2ATransport, status: string, seconds: number): void {
    this.counter(this.a2aRequests, method, transport, status).inc();
    this.histogram(this.a2aRequestDuration, method, transport, status).observe(seconds);
    this.counter(this.a2aReceived, method, 'client').inc();
    if (status !== 'ok') this.counter(this.errors, status, transport).inc();
    else if (method === 'SendMessage') this.histogram(this.a2aLatency, method).observe(seconds);
  }

  /**
   * The child of a labelled metric, cached by its label values (in the metric's label
   * order): prom-client hashes a label object on every call, a cost per request.
   */
  private counter(metric: Counter<string>, ...values: string[]): { inc(by?: number): void } {
    return this.child(metric, values, () => metric.labels(...values));
  }

  private histogram(metric: Histogram<string>, ...values: string[]): { observe(value: number): void } {
    return this.child(metric, values, () => metric.labels(...values));
  }

  private readonly children = new Map<object, Map<string, unknown>>();

  private child<T>(metric: object, values: string[], make: () => T): T {
    let cache = this.children.get(metric);
    if (!cache) this.children.set(metric, (cache = new Map()));
    const key = values.join('\u0000');
    let child = cache.get(key) as T | undefined;
    if (child === undefined) {
      child = make();
      cache.set(key, child);
    }
    return child;
  }

  /** The exposition, in the Prometheus text format. */
  async exposition(): Promise<string> {
    return this.registry.metrics();
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
