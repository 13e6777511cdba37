import { RequestContext } from '@a2a-js/sdk/server';
import type { AgentExecutor, ServerCallContext } from '@a2a-js/sdk/server';
import type { AgentCard, Message, SendMessageRequest, Task } from '@a2a-js/sdk';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { TaskState } from '@a2a-js/sdk';
import { textOf } from '../agents/parts.js';
import type { TransportName } from '../client/connect.js';
import type { ChildOutcome, ChildTarget } from '../workflow/children.js';
import type { DurableCalls } from '../workflow/durable-calls.js';
import type { Tracing } from '../observability/tracing.js';
import type { RegisteredAgent } from '../store/ports.js';
import type { StreamResponse } from '@a2a-js/sdk';
import { InputRequested, WAITING_KEY, type WaitingInput } from '../workflow/input-request.js';

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
  readonly durable?: DurableCalls | undefined;
  getCheckpoint?(key: string): Promise<string | undefined>;
  putCheckpoint?(key: string, json: string): Promise<void>;
  setStatus?(state: TaskState, text?: string): Promise<void>;
  readonly tracing?: Tracing | undefined;
  observeStep?(workflow: string, step: string, status: string, seconds: number): void;
  observeRoute?(router: string, target: string, reason: string): void;
  /** Agents registered by every server on this store (routers pick among them). */
  directory?(): Promise<RegisteredAgent[]>;
}

/** Options of `requestContext.call()`. */
export interface CallOptions {
  /**
   * The call's name, unique within the agent's run (its checkpoint key). Default: its
   * position among the run's calls (`call-1`, `call-2`, ...), which is stable as long as
   * the agent makes its calls in the same order each time it runs.
   */
  readonly name?: string;
  /** Give up (PEER_TIMEOUT) and cancel the child after this long. */
  readonly timeoutMs?: number;
  /** For agents over A2A: the transport (JSON-RPC by default). */
  readonly transport?: TransportName;
  /** Every event the child streams, live (artifacts to relay, progress); not replayed from a checkpoint. */
  readonly onEvent?: (event: StreamResponse) => void;
}

/** What `call()` resolves with: how the child ended, its text and data. */
export type CallResult = ChildOutcome;

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

  /**
   * A durable call to another agent: `target` is an agent name (hosted here or registered
   * by another server), `{ url }` of any A2A agent, or `{ capability }` (a skill id or tag,
   * resolved through discovery). The outcome is checkpointed: when a takeover re-runs this
   * agent, a finished call returns its result, and one under way re-attaches to the same
   * child task instead of sending again. Resolves with the child's outcome (`status`,
   * `text`, `data`); rejects only when the child could not be reached. Calls may run in
   * parallel (`Promise.all`); while they wait, this task's worker slot serves others.
   */
  async call(
    target: string | ChildTarget,
    message: string | Message,
    options: CallOptions = {},
  ): Promise<CallResult> {
    const durable = this.handle.durable;
    if (!durable) throw new Error('durable calls are not available in this context');
    const name = options.name ?? `call-${++this.calls}`;
    const { scope } = await this.durableScope();
    return durable.call(
      `${scope}:${name}`,
      typeof target === 'string' ? { agent: target } : target,
      message,
      {
        timeoutMs: options.timeoutMs,
        transport: options.transport,
        onEvent: options.onEvent,
        step: name,
      },
    );
  }

  /**
   * Asks the user for input and waits for the answer, durably: the task moves to
   * INPUT_REQUIRED with `prompt` and this execution ends (the method throws an
   * `InputRequested` the engine expects; do not catch it). The follow-up message runs the
   * agent again; its checkpointed calls return their results, and this call returns the
   * text of the answer.
   */
  async awaitInput(prompt: string, options: { name?: string } = {}): Promise<string> {
    const { getCheckpoint, putCheckpoint, setStatus } = this.durableHandle();
    const name = options.name ?? `input-${++this.inputs}`;
    const { scope } = await this.durableScope();
    const key = `${scope}:input:${name}`;
    const saved = await getCheckpoint(key);
    if (saved !== undefined) return (JSON.parse(saved) as { text: string }).text;
    const waiting: WaitingInput = { scope, key, messageId: this.userMessage.messageId };
    await putCheckpoint(WAITING_KEY, JSON.stringify(waiting));
    await setStatus(TaskState.TASK_STATE_INPUT_REQUIRED, prompt);
    throw new InputRequested(prompt);
  }

  /**
   * The durable scope of this execution: the message that started the calls, which is the
   * current one unless the task was waiting for input and this message is the answer (then
   * the answer is checkpointed for the input that asked, and the scope goes on).
   */
  durableScope(): Promise<{ scope: string }> {
    this.scope ??= (async () => {
      const { getCheckpoint, putCheckpoint } = this.durableHandle();
      const current = this.userMessage.messageId;
      // This message answered an input before (a re-run after a takeover): its scope goes on.
      const answered = await getCheckpoint(`input:scope:${current}`);
      if (answered !== undefined) return { scope: JSON.parse(answered) as string };
      const raw = await getCheckpoint(WAITING_KEY);
      const waiting = raw ? (JSON.parse(raw) as WaitingInput | null) : null;
      if (!waiting || waiting.messageId === current) return { scope: current };
      await putCheckpoint(waiting.key, JSON.stringify({ text: textOf(this.userMessage) }));
      await putCheckpoint(`input:scope:${current}`, JSON.stringify(waiting.scope));
      await putCheckpoint(WAITING_KEY, 'null');
      return { scope: waiting.scope };
    })();
    return this.scope;
  }

  /** What agentd's own workflow executor uses of the run (not for agents' code). */
  get runHandle(): RunHandle {
    return this.handle;
  }

  private durableHandle(): Required<Pick<RunHandle, 'getCheckpoint' | 'putCheckpoint' | 'setStatus'>> {
    const h = this.handle;
    if (!h.getCheckpoint || !h.putCheckpoint || !h.setStatus)
      throw new Error('durable primitives are not available in this context');
    return {
      getCheckpoint: h.getCheckpoint.bind(h),
      putCheckpoint: h.putCheckpoint.bind(h),
      setStatus: h.setStatus.bind(h),
    };
  }

  private calls = 0;
  private inputs = 0;
  private scope: Promise<{ scope: string }> | undefined;
}
Object.setPrototypeOf(AgentdRequestContext.prototype, RequestContext.prototype);
