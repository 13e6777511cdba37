/**
 * Admission of a SendMessage: a new task or the continuation of one that asked for input,
 * run at once in a free worker slot here or queued for any replica.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Message, SendMessageRequest, Task } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { createHash, randomUUID } from 'node:crypto';
import { err, invalidParams, isAgentdError } from '../errors.js';
import type { Principal } from '../security/principal.js';
import { principalOf } from '../security/principal.js';
import type { StoredTask } from '../store/ports.js';
import { tenantOf } from './call-context.js';
import { isoNow } from './clock.js';
import type { EngineCore } from './engine-core.js';
import type { HostedAgent } from './hosted-agent.js';
import { queuedPayload } from './queued-request.js';
import { parseMessageRecord, taskRecord } from './message-record.js';
import type { Recovery } from './recovery.js';
import { appendHistory } from './reducer.js';
import type { RunExecutor } from './run-executor.js';
import { TaskRun, type RunOutcome } from './task-run.js';
import { taskNotFound, type TaskReader } from './task-reader.js';
import { mayAccess } from './ownership.js';
import type { OwnerCaps } from './owner-caps.js';
import { isInterrupted, isTerminal, stateLabel } from './task-state.js';
import { validateSendMessage } from './validate.js';
import type { WorkerSlots } from './worker-slots.js';

type Lease = (id: string, initial?: Task) => Promise<number>;

/** What a message sent again produced: its task as it is now, or its direct reply. */
export type Repeat = { readonly task: Task; readonly lastSeq: number } | { readonly message: Message };

/**
 * A message admitted: its run, and (for a blocking caller) the outcome to wait for; or a
 * message accepted before (same agent, tenant, task and messageId), with what it produced.
 */
export type Admitted =
  | { readonly run: TaskRun; readonly waiting: Promise<RunOutcome> | undefined; readonly repeat?: undefined }
  | { readonly repeat: Repeat; readonly run?: undefined; readonly waiting?: undefined };

/** How long a repeat waits for the task of a message accepted moments ago to be stored. */
const REPEAT_WAIT_MS = 10_000;

export class Admission {
  constructor(
    private readonly core: EngineCore,
    private readonly reader: TaskReader,
    private readonly slots: WorkerSlots,
    private readonly executor: RunExecutor,
    private readonly recovery: Recovery,
    private readonly caps: OwnerCaps,
  ) {}

  /**
   * Admits a message: validates it, creates or continues its task, and runs it here or
   * queues it. `beforeDispatch` sees the run before its agent can publish anything (a
   * stream registers its follower there). A message whose id was accepted before is not
   * run again: `repeat` is what the message ledger recorded for it.
   */
  async start(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    beforeDispatch?: (run: TaskRun) => void,
  ): Promise<Admitted> {
    const message = validateSendMessage(params, this.core.options.limits.maxDepth);
    const { store, options } = this.core;
    if (!this.core.isAccepting) throw err('SHUTTING_DOWN');
    const tenant = tenantOf(params.tenant, ctx);
    const principal = principalOf(ctx);
    const id = message.taskId || randomUUID();
    if (options.messageTtlMs <= 0) {
      if (!this.core.isAccepting) throw err('SHUTTING_DOWN');
      return this.admit(agent, params, ctx, message, tenant, id, undefined, beforeDispatch);
    }
    // Per principal: one caller's messageId never answers, or blocks, another's message.
    const key = messageKey(agent.name, tenant, message.taskId, message.messageId, principal.id);
    for (;;) {
      const recorded = await store.messages.claim(key, taskRecord(id), options.messageTtlMs);
      if (recorded === undefined) break;
      const repeat = await this.repeated(agent, tenant, principal, key, recorded);
      if (repeat) return { repeat };
      // Recorded, but its task is gone and nothing runs it (a refused admission whose release
      // failed, or a task retention dropped): the message is accepted anew.
      await store.messages.release(key);
    }
    if (!this.core.isAccepting) {
      await store.messages.release(key).catch(() => {});
      throw err('SHUTTING_DOWN');
    }
    try {
      return await this.admit(agent, params, ctx, message, tenant, id, key, beforeDispatch);
    } catch (error) {
      // Refused before it ran (queue full, a task not waiting for input, ...): a retry may run it.
      await store.messages.release(key).catch(() => {});
      throw error;
    }
  }

  /**
   * What the message recorded as `recorded` produced. A task stored by a first commit still
   * on its way is waited for while some replica holds its lease (or, briefly, while the
   * record is new); undefined when the task is gone and nothing runs it.
   */
  private async repeated(
    agent: HostedAgent,
    tenant: string,
    principal: Principal,
    key: string,
    recorded: string,
  ): Promise<Repeat | undefined> {
    const { store, runs, logger } = this.core;
    const deadline = Date.now() + REPEAT_WAIT_MS;
    for (
      let value: string | undefined = recorded;
      value !== undefined;
      value = await store.messages.get(key)
    ) {
      const record = parseMessageRecord(value);
      if (!record) return undefined;
      if (record.kind === 'reply') return { message: record.message };
      const local = runs.get(record.taskId);
      if (local?.reply) return { message: local.reply };
      try {
        const found = await this.reader.current(agent, record.taskId, tenant, principal);
        logger.debug({ task_id: record.taskId }, 'message sent again: answered from its task');
        return found;
      } catch (error) {
        if (!isAgentdError(error, 'TASK_NOT_FOUND')) throw error;
      }
      const running = await store.queue.isLeased(record.taskId);
      if (!running && Date.now() - record.acceptedAt > REPEAT_WAIT_MS) return undefined;
      if (Date.now() > deadline) {
        throw err(
          'TASK_NOT_FOUND',
          `This message was accepted moments ago and its task ${record.taskId} is still starting; retry shortly`,
          {
            taskId: record.taskId,
          },
        );
      }
      // Its first commit is on its way: wait for its first event (or a moment), then look again.
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 250);
      try {
        for await (const first of store.events.follow(record.taskId, 0, controller.signal)) {
          void first;
          break;
        }
      } finally {
        clearTimeout(timer);
        controller.abort();
      }
    }
    return undefined;
  }

  private async admit(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    message: Message,
    tenant: string,
    id: string,
    key: string | undefined,
    beforeDispatch: ((run: TaskRun) => void) | undefined,
  ): Promise<Admitted> {
    const { store, options } = this.core;
    const owner = principalOf(ctx).id;
    // A new task counts against its creator's cap before anything is stored (a continuation
    // counts once its task is found to be the caller's, in continueTask).
    if (!message.taskId) await this.caps.acquire(owner, id);
    // A free worker here runs the task at once (the slot is taken synchronously, so
    // concurrent requests cannot overbook it). Otherwise the task waits in the queue.
    const slot = this.slots.tryAcquire();
    let leased = false;
    const lease: Lease | undefined = slot
      ? (taskId, initial) => {
          leased = true;
          // Only a durable queue needs what a lease carries (another replica may take it over).
          const payload = store.queue.durable
            ? queuedPayload(agent, params, ctx, tenant, owner, key, initial)
            : '';
          return store.queue.lease(taskId, agent.name, payload);
        }
      : undefined;
    // A blocking SendMessage on a free worker stores its task with its first events (one
    // write fewer): nobody can know its id before the answer. The lease, written first,
    // carries the task, so a replica taking it over can store it.
    const deferCreate =
      slot !== undefined &&
      !beforeDispatch &&
      params.configuration?.returnImmediately !== true &&
      !params.configuration?.taskPushNotificationConfig;
    let run: TaskRun;
    try {
      run = message.taskId
        ? await this.continueTask(agent, message, tenant, ctx, lease)
        : await this.createTask(agent, message, tenant, owner, params, id, lease, deferCreate);
    } catch (error) {
      slot?.release();
      if (leased && message.taskId) void store.queue.ack(message.taskId).catch(() => {});
      // A new task refused before it ran is not in flight (a continuation releases its own count).
      if (!message.taskId) await this.caps.release(owner, id).catch(() => {});
      throw error;
    }
    run.messageKey = key;
    const satisfaction = satisfactionOf(message);
    if (satisfaction !== undefined)
      options.business?.recordMean(SATISFACTION, satisfaction, SATISFACTION_HELP);
    if (slot) {
      const waiting = run.waitForRest();
      beforeDispatch?.(run);
      await this.executor.start(run, params, ctx, slot);
      return { run, waiting };
    }
    // Queued: whichever replica takes it runs it. A blocking caller follows its event log
    // (registered before the push, so no event can slip past).
    beforeDispatch?.(run);
    const controller = new AbortController();
    const wanted = !beforeDispatch && params.configuration?.returnImmediately !== true;
    const follower = wanted ? store.events.follow(run.id, run.lastSeq, controller.signal) : undefined;
    try {
      // A follow-up to a task already admitted is never refused for queue depth.
      const depth = message.taskId ? Number.MAX_SAFE_INTEGER : options.maxQueueDepth;
      await store.queue.push(
        run.id,
        agent.name,
        queuedPayload(agent, params, ctx, tenant, owner, key),
        depth,
      );
    } catch (error) {
      controller.abort();
      if (!message.taskId) await this.executor.discardProvisionalTask(run).catch(() => {});
      run.releaseOwnerSlot();
      throw error;
    }
    return { run, waiting: follower ? this.recovery.awaitElsewhere(run, follower, controller) : undefined };
  }

  private async createTask(
    agent: HostedAgent,
    message: Message,
    tenant: string,
    owner: string,
    params: SendMessageRequest,
    id: string,
    lease: Lease | undefined,
    deferCreate: boolean,
  ): Promise<TaskRun> {
    const { store } = this.core;
    const pushConfig = params.configuration?.taskPushNotificationConfig;
    if (pushConfig) {
      requirePush(agent);
      this.core.options.webhooks.check(pushConfig.url);
    }
    const contextId = message.contextId || randomUUID();
    const task: Task = {
      id,
      contextId,
      status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: isoNow() },
      artifacts: [],
      history: [{ ...message, taskId: id, contextId }],
      metadata: undefined,
    };
    const record = { task, agent: agent.name, tenant, owner, lastSeq: 0, updatedAt: Date.now() };
    let stored: StoredTask;
    if (deferCreate && lease) {
      // Version 0: the run's first commit creates it.
      await lease(id, task);
      stored = { ...record, version: 0 };
    } else {
      // The lease is sent first (same connection, same batch): the task is never stored
      // without a record of who runs it.
      [, stored] = await Promise.all([lease?.(id), store.tasks.create(record)]);
    }
    const run = new TaskRun(this.core.runDeps, agent, stored);
    run.exposed = params.configuration?.returnImmediately === true;
    if (pushConfig) {
      const config = { ...pushConfig, tenant, taskId: id, id: pushConfig.id || randomUUID() };
      await store.pushConfigs.put(config);
      run.pushConfigs = [config];
    }
    return run;
  }

  private async continueTask(
    agent: HostedAgent,
    message: Message,
    tenant: string,
    ctx: ServerCallContext,
    lease: Lease | undefined,
  ): Promise<TaskRun> {
    const id = message.taskId;
    const principal = principalOf(ctx);
    // Another's task is not found, whether it runs here or not: its existence is not told.
    const running = this.core.runs.get(id);
    if (
      running &&
      (running.agent !== agent || running.tenant !== tenant || !mayAccess(principal, running.owner))
    )
      throw taskNotFound(id);
    if (running) {
      throw err(
        'UNSUPPORTED_OPERATION',
        `Task ${id} is still working; send a follow-up when it asks for input`,
        {
          taskId: id,
        },
      );
    }
    const stored = await this.reader.load(agent, id, tenant, principal);
    const state = stored.task.status?.state;
    if (isTerminal(state)) {
      throw err('UNSUPPORTED_OPERATION', `Task ${id} is ${stateLabel(state)} and accepts no more messages`, {
        taskId: id,
      });
    }
    if (!isInterrupted(state)) {
      throw err(
        'UNSUPPORTED_OPERATION',
        `Task ${id} is ${stateLabel(state)}; send a follow-up when it asks for input`,
        { taskId: id },
      );
    }
    if (message.contextId && message.contextId !== stored.task.contextId) {
      throw invalidParams(
        'message.contextId',
        `does not match the context of task ${id} (${stored.task.contextId})`,
      );
    }
    // Counted against the task's owner again: it asked for input and came to rest.
    await this.caps.acquire(stored.owner ?? '', id);
    const run = new TaskRun(this.core.runDeps, agent, stored);
    run.exposed = true;
    try {
      const [, configs] = await Promise.all([lease?.(id), this.core.store.pushConfigs.list(id)]);
      run.pushConfigs = configs;
      // Saved with the version read above: of two follow-ups racing on two replicas, one wins.
      await run.saveSnapshot(appendHistory(run.task, { ...message, contextId: stored.task.contextId }));
    } catch (error) {
      run.releaseOwnerSlot();
      throw error;
    }
    return run;
  }
}

/**
 * The message ledger's key for a message: agent, tenant, the task it continues (none for
 * a new task) and its messageId, hashed so a long id costs the ledger a fixed size.
 */
export function messageKey(
  agent: string,
  tenant: string,
  taskId: string,
  messageId: string,
  principal: string,
): string {
  return createHash('sha256')
    .update(`${agent}\0${tenant}\0${taskId}\0${messageId}\0${principal}`)
    .digest('base64url');
}

/** PUSH_NOTIFICATION_NOT_SUPPORTED unless the agent's card says it supports push. */
export function requirePush(agent: HostedAgent): void {
  if (!agent.card.capabilities?.pushNotifications) {
    throw err('PUSH_NOTIFICATION_NOT_SUPPORTED', `Agent "${agent.name}" does not support push notifications`);
  }
}

/** The standard business metric, fed from message feedback (`metadata.feedback.satisfaction`). */
const SATISFACTION = 'customer_satisfaction_score';
const SATISFACTION_HELP = 'Average customer satisfaction score';

/** A satisfaction score a client sent with a message (`metadata.feedback.satisfaction`, 0-10). */
function satisfactionOf(message: Message): number | undefined {
  const feedback = (message.metadata as Record<string, unknown> | undefined)?.feedback;
  const score = (feedback as Record<string, unknown> | undefined)?.satisfaction;
  return typeof score === 'number' && Number.isFinite(score) && score >= 0 && score <= 10 ? score : undefined;
}
