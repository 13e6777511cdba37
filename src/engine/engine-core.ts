/**
 * What the engine's parts share: the options, the store, the hosted agents, and the runs
 * this replica holds. Created once by {@link TaskEngine}; each part gets it by reference.
 */
import type { SendMessageRequest } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import type { Logger } from 'pino';
import type { StateStore } from '../store/ports.js';
import type { EngineObserver } from '../observability/metrics.js';
import type { Tracing } from '../observability/tracing.js';
import type { BusinessMetricsApi, HostedAgent } from './hosted-agent.js';
import type { PushNotifierOptions, WebhookTransport } from './push-notifier.js';
import type { AgentCaller } from './agent-caller.js';
import type { PeerPicker, PickStrategy } from './peer-picker.js';
import type { RunDeps, RunLimits, TaskRun } from './task-run.js';

export interface TaskEngineOptions {
  readonly store: StateStore;
  readonly logger: Logger;
  /** `MAX_CONCURRENT_WORKFLOWS`: tasks executing at once in this process. */
  readonly maxConcurrent: number;
  /** Tasks of one agent that may wait for a worker before new ones are refused with QUEUE_FULL. */
  readonly maxQueueDepth: number;
  /** A task whose replicas died this many times while running it is marked FAILED instead of re-run. */
  readonly maxAttempts: number;
  /** How often idle workers look for queued work without being told (a missed notification). */
  readonly pollMs?: number;
  /** Spans for webhook deliveries and agents' outbound A2A calls (off: no-op). */
  readonly tracing?: Tracing | undefined;
  /** Told when tasks start and end executing here, and of errors (metrics). */
  readonly observer?: EngineObserver | undefined;
  /** Business metrics agents record through `requestContext.metrics`. */
  readonly business?: BusinessMetricsApi | undefined;
  /** How long an executor's `cancelTask` may take before the engine cancels regardless. */
  readonly cancelGraceMs: number;
  /** How long a message's id is remembered, so that sending it again does not run it again (0: not at all). */
  readonly messageTtlMs: number;
  /**
   * `execution.maxTasksPerPrincipal`: tasks one principal may have in flight (submitted or
   * working, on any replica) before new ones are refused with TOO_MANY_TASKS; 0 or absent: no cap.
   */
  readonly maxTasksPerPrincipal?: number | undefined;
  /** What one task may hold (events agents publish are checked against it). */
  readonly limits: RunLimits;
  readonly push: PushNotifierOptions;
  /** How webhooks are reached: the SSRF-safe dispatcher (checks targets at config time too). */
  readonly webhooks: WebhookTransport;
  /**
   * Agents' and workflow steps' outbound A2A calls (`callAgent`, remote steps): built and
   * closed by the server, which owns its connection pools.
   */
  readonly caller: AgentCaller;
  /**
   * Called before a message is admitted (SendMessage, SendStreamingMessage, on every
   * transport); throws (PERMISSION_DENIED) when the caller may not send it.
   */
  /** Picks agents by capability for workflow steps and durable calls (default: over the store's registry). */
  readonly peerPicker?: PeerPicker | undefined;
  /** This server's region (`AGENTD_REGION`): agents there are preferred by name and capability. */
  readonly region?: string | undefined;
  /** How the picker chooses among agents with a capability (`registry.pick`). */
  readonly pickStrategy?: PickStrategy | undefined;
  readonly authorizeMessage?:
    ((agent: HostedAgent, params: SendMessageRequest, ctx: ServerCallContext) => void) | undefined;
}

export class EngineCore {
  readonly store: StateStore;
  readonly logger: Logger;
  readonly agents = new Map<string, HostedAgent>();
  private accepting = true;

  constructor(
    readonly options: TaskEngineOptions,
    readonly runDeps: RunDeps,
    /** Tasks queued or executing in this process, by id. */
    readonly runs = new Map<string, TaskRun>(),
  ) {
    this.store = options.store;
    this.logger = options.logger;
  }

  /** Whether new work is accepted (false once draining for shutdown). */
  get isAccepting(): boolean {
    return this.accepting;
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  /** Forgets a run once it no longer executes here. */
  finishRun(run: TaskRun): void {
    if (this.runs.get(run.id) === run) this.runs.delete(run.id);
  }
}
