import { RequestContext } from '@a2a-js/sdk/server';
import type { AgentExecutor, ServerCallContext } from '@a2a-js/sdk/server';
import type { AgentCard, SendMessageRequest, Task } from '@a2a-js/sdk';
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

/**
 * The SDK's `RequestContext` plus what agentd adds for agents that want it: an abort
 * signal that fires on cancellation or shutdown, the agent's name, and a logger already
 * carrying the task's correlation fields. SDK executors that ignore these run unchanged.
 */
export class AgentdRequestContext extends RequestContext {
  constructor(
    request: SendMessageRequest,
    taskId: string,
    contextId: string,
    context: ServerCallContext,
    task: Task | undefined,
    referenceTasks: Task[] | undefined,
    readonly signal: AbortSignal,
    readonly agentName: string,
    readonly logger: Logger,
  ) {
    super(request, taskId, contextId, context, task, referenceTasks);
  }
}
