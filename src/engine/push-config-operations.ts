/**
 * The four push-notification-config operations (A2A §3.1.7-3.1.10): each checks that the
 * agent supports push and that the caller may see the task, then reads or writes the store;
 * a run executing here learns of its webhooks at once.
 */
import type {
  DeleteTaskPushNotificationConfigRequest,
  GetTaskPushNotificationConfigRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { randomUUID } from 'node:crypto';
import { err } from '../errors.js';
import { requirePush } from './admission.js';
import { principalOf } from '../security/principal.js';
import { tenantOf } from './call-context.js';
import type { EngineCore } from './engine-core.js';
import type { HostedAgent } from './hosted-agent.js';
import type { TaskReader } from './task-reader.js';
import { validatePushConfig, validateTaskId } from './validate.js';

export class PushConfigOperations {
  constructor(
    private readonly core: EngineCore,
    private readonly reader: TaskReader,
  ) {}

  async create(
    agent: HostedAgent,
    params: TaskPushNotificationConfig,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    requirePush(agent);
    validatePushConfig(params);
    const tenant = tenantOf(params.tenant, ctx);
    await this.reader.current(agent, params.taskId, tenant, principalOf(ctx));
    this.core.options.webhooks.check(params.url);
    const config: TaskPushNotificationConfig = { ...params, tenant, id: params.id || randomUUID() };
    await this.core.store.pushConfigs.put(config);
    const run = this.core.runs.get(config.taskId);
    if (run) run.pushConfigs = [...run.pushConfigs.filter((c) => c.id !== config.id), config];
    return redacted(config);
  }

  async get(
    agent: HostedAgent,
    params: GetTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    await this.visibleTask(agent, params.taskId, tenantOf(params.tenant, ctx), ctx, params.id);
    const config = await this.core.store.pushConfigs.get(params.taskId, params.id);
    if (!config) {
      throw err('TASK_NOT_FOUND', `Task ${params.taskId} has no push notification config "${params.id}"`, {
        taskId: params.taskId,
        configId: params.id,
      });
    }
    return redacted(config);
  }

  async list(
    agent: HostedAgent,
    params: ListTaskPushNotificationConfigsRequest,
    ctx: ServerCallContext,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    await this.visibleTask(agent, params.taskId, tenantOf(params.tenant, ctx), ctx);
    const configs = await this.core.store.pushConfigs.list(params.taskId);
    return { configs: configs.map(redacted), nextPageToken: '' };
  }

  async delete(
    agent: HostedAgent,
    params: DeleteTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<void> {
    await this.visibleTask(agent, params.taskId, tenantOf(params.tenant, ctx), ctx, params.id);
    await this.core.store.pushConfigs.delete(params.taskId, params.id);
    const run = this.core.runs.get(params.taskId);
    if (run) run.pushConfigs = run.pushConfigs.filter((c) => c.id !== params.id);
  }

  /**
   * The checks every operation on a task's configs makes first: the agent supports push, the
   * ids are valid, and the caller may see the task (else TASK_NOT_FOUND).
   */
  private async visibleTask(
    agent: HostedAgent,
    taskId: string,
    tenant: string,
    ctx: ServerCallContext,
    configId?: string,
  ): Promise<void> {
    requirePush(agent);
    validateTaskId(taskId, 'taskId');
    if (configId !== undefined) validateTaskId(configId, 'id');
    await this.reader.current(agent, taskId, tenant, principalOf(ctx));
  }
}

/** What a redacted credential reads as. */
export const REDACTED = '[redacted]';

/**
 * The config as it is shown to callers: the webhook credentials (`token`,
 * `authentication.credentials`) are write-only, so every transport answers with them
 * replaced by {@link REDACTED} (an unset one stays empty).
 */
export function redacted(config: TaskPushNotificationConfig): TaskPushNotificationConfig {
  const authentication = config.authentication && {
    ...config.authentication,
    credentials: config.authentication.credentials ? REDACTED : '',
  };
  return { ...config, token: config.token ? REDACTED : '', authentication };
}
