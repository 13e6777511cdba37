import type {
  AgentCard,
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  ListTasksRequest,
  ListTasksResponse,
  Message,
  SendMessageRequest,
  StreamResponse,
  SubscribeToTaskRequest,
  Task,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { signalOf } from './call-context.js';
import type { HostedAgent } from './hosted-agent.js';
import type { TaskEngine } from './task-engine.js';

/**
 * One hosted agent seen through the SDK's `A2ARequestHandler` interface, so the SDK's
 * own transport handlers (v0.3 compat, gRPC service) drive the engine unchanged.
 */
export class AgentRequestHandler {
  constructor(
    private readonly engine: TaskEngine,
    readonly agent: HostedAgent,
  ) {}

  async getAgentCard(): Promise<AgentCard> {
    return this.agent.card;
  }

  async getAuthenticatedExtendedAgentCard(): Promise<AgentCard> {
    return this.engine.extendedCard(this.agent);
  }

  sendMessage(params: SendMessageRequest, ctx: ServerCallContext): Promise<Message | Task> {
    return this.engine.sendMessage(this.agent, params, ctx);
  }

  async *sendMessageStream(
    params: SendMessageRequest,
    ctx: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    for await (const r of this.engine.sendMessageStream(this.agent, params, ctx, signalOf(ctx)))
      yield r.event;
  }

  getTask(params: GetTaskRequest, ctx: ServerCallContext): Promise<Task> {
    return this.engine.getTask(this.agent, params, ctx);
  }

  listTasks(params: ListTasksRequest, ctx: ServerCallContext): Promise<ListTasksResponse> {
    return this.engine.listTasks(this.agent, params, ctx);
  }

  cancelTask(params: CancelTaskRequest, ctx: ServerCallContext): Promise<Task> {
    return this.engine.cancelTask(this.agent, params, ctx);
  }

  createTaskPushNotificationConfig(
    params: TaskPushNotificationConfig,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    return this.engine.pushConfigs.create(this.agent, params, ctx);
  }

  getTaskPushNotificationConfig(
    params: GetTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    return this.engine.pushConfigs.get(this.agent, params, ctx);
  }

  listTaskPushNotificationConfigs(
    params: ListTaskPushNotificationConfigsRequest,
    ctx: ServerCallContext,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    return this.engine.pushConfigs.list(this.agent, params, ctx);
  }

  deleteTaskPushNotificationConfig(
    params: DeleteTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<void> {
    return this.engine.pushConfigs.delete(this.agent, params, ctx);
  }

  async *resubscribe(
    params: SubscribeToTaskRequest,
    ctx: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    for await (const r of this.engine.subscribe(this.agent, params, ctx, { signal: signalOf(ctx) }))
      yield r.event;
  }
}
