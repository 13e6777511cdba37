import { RequestContext } from '@a2a-js/sdk/server';
import type { AgentExecutor, ServerCallContext } from '@a2a-js/sdk/server';
import type { AgentCard, Message, SendMessageRequest, Task } from '@a2a-js/sdk';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';

/** An agent this process serves: its card, optional extended card, and executor. */
export interface HostedAgent {
  readonly name: string;
  /** Public card; `supportedInterfaces` are filled in once the server knows its URLs. */
  card: AgentCard;
  /** Card returned by GetExtendedAgentCard, when configured. */
  extendedCard: AgentCard | undefined;
  readonly executor: AgentExecutor;
}

/** What the engine hands a request context; the signal and logger are made on first use. */
/**
 * Business metrics an agent records (Prometheus gauges and counters without labels,
 * created on first use; names lower snake case).
 */
export interface BusinessMetricsApi {
  /** Sets a gauge. */
  set(name: string, value: number, help?: string): void;
  /** Adds to a counter (default 1). */
  inc(name: string, by?: number, help?: string): void;
  /** Folds a value into a gauge showing the running mean of all values recorded. */
  recordMean(name: string, value: number, help?: string): void;
}

/** What agents get when monitoring is off. */
export const NO_METRICS: BusinessMetricsApi = { set() {}, inc() {}, recordMean() {} };

export interface RunHandle {
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly metrics: BusinessMetricsApi;
  callAgent?(
    agentUrl: string,
    message: Message | string,
    options?: { transport?: 'jsonrpc' | 'rest' | 'grpc'; timeoutMs?: number },
  ): Promise<Message | Task>;
  readonly attempt: number;
  /** The task's trace context (its server span), when tracing is on. */
  readonly traceContext: Context | undefined;
  step<T>(key: string, fn: () => T | Promise<T>): Promise<T>;
}

/**
 * The SDK's `RequestContext` plus what agentd adds for agents that want it: an abort
 * signal that fires on cancellation or shutdown, the agent's name, a logger already
 * carrying the task's correlation fields, `step()` checkpoints and the attempt number. SDK executors that ignore these run unchanged:
 * it is an `instanceof RequestContext` with the same fields and `userMessage` getter.
 *
 * It does not call the SDK constructor, which `structuredClone`s the whole request on
 * every message (4 % of a request's CPU in our profile); the engine builds a fresh
 * request object per execution, so there is nothing to protect.
 */
export class AgentdRequestContext implements RequestContext {
  constructor(
    readonly request: SendMessageRequest,
    readonly taskId: string,
    readonly contextId: string,
    readonly context: ServerCallContext,
    readonly task: Task | undefined,
    readonly referenceTasks: Task[] | undefined,
    readonly agentName: string,
    private readonly handle: RunHandle,
  ) {}

  get userMessage(): Message {
    return this.request.message as Message;
  }

  /** Aborts when the task is canceled or the server shuts down. */
  get signal(): AbortSignal {
    return this.handle.signal;
  }

  /** A logger bound to this task's agent, task and context ids. */
  get logger(): Logger {
    return this.handle.log;
  }

  /**
   * Sends a message to another A2A agent (its base URL or card URL) and returns its answer,
   * as `SendMessage` does, over `options.transport` (JSON-RPC by default; `grpc`, `rest`).
   * The call is traced as part of this task (the other agent's work joins the same trace),
   * counted in `a2a_messages_sent_total`, and aborted with the task. Passing failures are
   * retried (the same messageId each time), each attempt bounded by `options.timeoutMs`
   * (default `outbound.callTimeoutMs`); see "Calling other agents" in docs/agents.md.
   */
  callAgent(
    agentUrl: string,
    message: Message | string,
    options: { transport?: 'jsonrpc' | 'rest' | 'grpc'; timeoutMs?: number } = {},
  ): Promise<Message | Task> {
    if (!this.handle.callAgent) throw new Error('callAgent is not available in this context');
    return this.handle.callAgent(agentUrl, message, options);
  }

  /**
   * The task's trace context, when tracing is on: pass it as the parent of spans for work
   * the agent does (agentd's own MCP calls and `callAgent` use it already).
   */
  get traceContext(): Context | undefined {
    return this.handle.traceContext;
  }

  /** Business metrics, exported on `/metrics` (e.g. `metrics.inc('orders_placed_total')`). */
  get metrics(): BusinessMetricsApi {
    return this.handle.metrics;
  }

  /**
   * 1 on the first run of this message; higher when the replica that ran it died and
   * this one took the task over (at-least-once execution). Also in the task's metadata
   * as `agentd.attempt` from the second attempt on.
   */
  get attempt(): number {
    return this.handle.attempt;
  }

  /**
   * Runs `fn` at most once per task and message, across replicas: the result is
   * checkpointed in the store, and when a takeover re-runs the agent, a finished step
   * returns its checkpoint instead of running again. Use it around side effects and
   * expensive calls; results must be JSON-serialisable.
   */
  step<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    return this.handle.step(`${this.userMessage.messageId}:${name}`, fn);
  }
}
Object.setPrototypeOf(AgentdRequestContext.prototype, RequestContext.prototype);
