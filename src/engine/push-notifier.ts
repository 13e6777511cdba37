import type { Context } from '@opentelemetry/api';
import { SpanKind, Tracing } from '../observability/tracing.js';
import { redactUrl } from '../observability/logger.js';
import { StreamResponse } from '@a2a-js/sdk';
import type { TaskPushNotificationConfig } from '@a2a-js/sdk';
import type { Logger } from 'pino';
import { isAgentdError } from '../errors.js';

export interface PushNotifierOptions {
  /** Attempts per notification, the first included. */
  readonly maxAttempts: number;
  /** Backoff before retry n is `baseDelayMs · 2^(n-1)`, plus up to 25 % jitter. */
  readonly baseDelayMs: number;
  /** Per-attempt timeout. */
  readonly timeoutMs: number;
  /** Notifications waiting per webhook before the oldest are dropped (and logged). */
  readonly maxPendingPerTarget: number;
}

/** Told of each notification's outcome (metrics): delivered, or given up after its attempts. */
export type PushOutcome = (delivered: boolean, seconds: number) => void;

/** Told of each notification refused because of its target (metrics; `reason` is from a bounded set). */
export type PushRefused = (reason: string) => void;

/**
 * How webhooks are reached (a port: the security layer's SSRF-safe dispatcher implements it).
 * `post` rejects with PUSH_TARGET_REFUSED when the target may not be reached (then the
 * notification is not retried), and with any other error for a failed attempt.
 */
export interface WebhookTransport {
  /** Throws PUSH_TARGET_REFUSED when the URL itself names a refused target (config time). */
  check(url: string): void;
  /** POSTs the body; resolves with the HTTP status. */
  post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number>;
  /** agentd's signed JWT for this delivery (`aud` = url), if deliveries are signed. */
  token(url: string, taskId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

interface Target {
  readonly config: TaskPushNotificationConfig;
  readonly queue: StreamResponse[];
  draining: boolean;
  /** The trace context deliveries are parented on (the task run's). */
  parent: Context | undefined;
}

/**
 * Delivers task events to client webhooks (A2A §4.3.3): POST of the `StreamResponse`
 * JSON, `Authorization: <scheme> <credentials>` when the config has authentication and
 * `X-A2A-Notification-Token` when it has a token. Each webhook gets its events in order
 * from its own queue; failures are retried with exponential backoff and then logged.
 * Delivery never blocks or fails the task.
 */
export class PushNotifier {
  private readonly targets = new Map<string, Target>();
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly options: PushNotifierOptions,
    private readonly logger: Logger,
    private readonly transport: WebhookTransport,
    private readonly outcome?: PushOutcome,
    private readonly tracing: Tracing = Tracing.off,
    private readonly refused?: PushRefused,
  ) {}

  /** Queues the event for every config; returns at once. */
  notify(configs: readonly TaskPushNotificationConfig[], event: StreamResponse, parent?: Context): void {
    if (this.closed) return;
    for (const config of configs) {
      const key = `${config.taskId}\u0000${config.id}`;
      let target = this.targets.get(key);
      if (!target) {
        target = { config, queue: [], draining: false, parent: undefined };
        this.targets.set(key, target);
      }
      target.parent = parent;
      target.queue.push(event);
      if (target.queue.length > this.options.maxPendingPerTarget) {
        target.queue.shift();
        this.logger.warn(
          { task_id: config.taskId, push_config_id: config.id },
          'push notification dropped: webhook is too far behind',
        );
      }
      if (!target.draining) void this.drain(key, target);
    }
  }

  /** Notifications queued or being delivered. */
  pending(): number {
    let n = 0;
    for (const t of this.targets.values()) n += t.queue.length;
    return n;
  }

  /** Stops delivery: aborts requests in flight and drops what is queued. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.inflight) c.abort();
    this.targets.clear();
    await this.transport.close();
  }

  private async drain(key: string, target: Target): Promise<void> {
    target.draining = true;
    try {
      while (!this.closed) {
        const event = target.queue.shift();
        if (!event) break;
        await this.deliver(target.config, event, target.parent);
      }
    } finally {
      target.draining = false;
      if (target.queue.length === 0 && this.targets.get(key) === target) this.targets.delete(key);
    }
  }

  private async deliver(
    config: TaskPushNotificationConfig,
    event: StreamResponse,
    parent: Context | undefined,
  ): Promise<void> {
    const body = JSON.stringify(StreamResponse.toJSON(event));
    const headers: Record<string, string> = { 'content-type': 'application/a2a+json' };
    const traced = this.tracing.enabled
      ? this.tracing.start('A2A push notification', SpanKind.CLIENT, parent, {
          'a2a.task_id': config.taskId,
          'http.request.method': 'POST',
        })
      : undefined;
    this.tracing.inject(traced?.context, headers);
    if (config.token) headers['x-a2a-notification-token'] = config.token;
    if (config.authentication?.scheme) {
      headers.authorization = `${config.authentication.scheme} ${config.authentication.credentials}`.trim();
    }
    let lastProblem = '';
    try {
      // agentd's own JWT: the Authorization header unless the config's credentials have it.
      const jwt = await this.transport.token(config.url, config.taskId);
      if (jwt) headers[headers.authorization ? 'x-agentd-delivery-jwt' : 'authorization'] = `Bearer ${jwt}`;
    } catch (error) {
      lastProblem = `signing failed: ${String(error)}`;
    }
    const started = performance.now();
    for (let attempt = 1; attempt <= this.options.maxAttempts && !this.closed; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
      this.inflight.add(controller);
      try {
        const status = await this.transport.post(config.url, headers, body, controller.signal);
        if (status >= 200 && status < 300) {
          this.outcome?.(true, (performance.now() - started) / 1000);
          Tracing.end(traced);
          return;
        }
        lastProblem = `HTTP ${status}`;
      } catch (error) {
        if (isAgentdError(error, 'PUSH_TARGET_REFUSED')) {
          // A refused target stays refused: no retry. Logged without credentials.
          Tracing.end(traced, error.message);
          const reason = error.data?.reason ?? 'refused';
          this.refused?.(reason);
          this.logger.warn(
            { task_id: config.taskId, push_config_id: config.id, webhook: redactUrl(config.url), reason },
            `push notification refused: ${error.message}`,
          );
          return;
        }
        lastProblem = controller.signal.aborted
          ? `timed out after ${this.options.timeoutMs} ms`
          : String(error);
      } finally {
        clearTimeout(timer);
        this.inflight.delete(controller);
      }
      if (attempt < this.options.maxAttempts && !this.closed) {
        const delay = this.options.baseDelayMs * 2 ** (attempt - 1);
        await sleep(delay + Math.random() * delay * 0.25);
      }
    }
    Tracing.end(traced, this.closed ? undefined : lastProblem);
    if (this.closed) return;
    this.outcome?.(false, (performance.now() - started) / 1000);
    this.logger.warn(
      {
        task_id: config.taskId,
        push_config_id: config.id,
        webhook: redactUrl(config.url),
        attempts: this.options.maxAttempts,
        problem: lastProblem,
      },
      'push notification delivery failed',
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
