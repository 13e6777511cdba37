import { RequestContext } from '@a2a-js/sdk/server';
import type { AgentExecutor, ServerCallContext } from '@a2a-js/sdk/server';
import type { AgentCard, Message, SendMessageRequest, Task } from '@a2a-js/sdk';
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
export interface RunHandle {
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/**
 * The SDK's `RequestContext` plus what agentd adds for agents that want it: an abort
 * signal that fires on cancellation or shutdown, the agent's name, and a logger already
 * carrying the task's correlation fields. SDK executors that ignore these run unchanged:
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
}
Object.setPrototypeOf(AgentdRequestContext.prototype, RequestContext.prototype);
