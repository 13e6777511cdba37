import { SendMessageRequest as SendMessageRequestCodec, Task as TaskCodec, TaskState } from '@a2a-js/sdk';
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
import { ServerCallContext } from '@a2a-js/sdk/server';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AgentdError, err, invalidParams } from '../errors.js';
import type { StateStore, StoredTask, TaskEventRecord, WorkItem } from '../store/ports.js';
import { AgentdRequestContext, type HostedAgent } from './hosted-agent.js';
import { PushNotifier, type PushNotifierOptions } from './push-notifier.js';
import { isoNow } from './clock.js';
import { taskJsonText } from '../codec.js';
import { appendHistory, applyStreamEvent, limitHistory } from './reducer.js';
import { RunEventBus, TaskRun, type RunDeps, type RunOutcome } from './task-run.js';
import type { EngineObserver } from '../observability/metrics.js';
import { Tracing } from '../observability/tracing.js';
import { AgentCaller } from './agent-caller.js';
import type { Context } from '@opentelemetry/api';
import type { BusinessMetricsApi } from './hosted-agent.js';
import { isInterrupted, isTerminal, stateLabel } from './task-state.js';
import {
  validateHistoryLength,
  validateListTasks,
  validatePushConfig,
  validateSendMessage,
  validateTaskId,
} from './validate.js';

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
  readonly push: PushNotifierOptions;
}

/** A stream record: the event plus its event-log sequence (the SSE `id`). */
export type StreamRecord = TaskEventRecord;

/** Counts for health, metrics and leak tests. */
export interface EngineStats {
  readonly runs: number;
  /** Tasks executing on this replica. */
  readonly running: number;
  /** Tasks waiting for a worker (all replicas, as last seen here). */
  readonly queued: number;
  readonly subscribers: number;
  readonly pushPending: number;
}

/**
 * The one engine behind every transport. It owns task lifecycle, dispatch under the
 * concurrency limit, cancellation, subscribe/replay and push delivery, for all hosted
 * agents; {@link TaskEngine.handlerFor} gives each agent the SDK's `A2ARequestHandler`
 * view. State lives in the {@link StateStore} ports; `runs` holds only tasks that are
 * queued or executing in this process.
 */
export class TaskEngine {
  private readonly agents = new Map<string, HostedAgent>();
  private readonly runs = new Map<string, TaskRun>();
  private readonly push: PushNotifier;
  private readonly caller: AgentCaller;
  private readonly store: StateStore;
  private readonly logger: Logger;
  private accepting = true;
  /** Worker slots in use (or reserved) on this replica, at most `maxConcurrent`. */
  private active = 0;
  private pumping = false;
  private pumpAgain = false;
  /** Another replica (or this one) announced queued work since the last take. */
  private workSignaled = false;
  private idleWaiters: Array<() => void> = [];
  private readonly poller: NodeJS.Timeout;

  constructor(private readonly options: TaskEngineOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.push = new PushNotifier(
      options.push,
      options.logger,
      (delivered, seconds) => options.observer?.pushDelivered(delivered, seconds),
      options.tracing ?? Tracing.off,
    );
    this.caller = new AgentCaller(options.tracing ?? Tracing.off, (recipient, delivered, seconds) =>
      options.observer?.messageSent(recipient, delivered, seconds),
    );
    const queue = this.store.queue;
    // A cancel requested on another replica arrives here; only the executing replica acts.
    queue.onCancelRequest((taskId) => {
      const run = this.runs.get(taskId);
      if (run && !isTerminal(run.state)) {
        void this.cancelRun(run, 'canceled from another replica').catch((error: unknown) =>
          run.log.error({ err: error }, 'cancel requested by another replica failed'),
        );
      }
    });
    queue.onWork(() => {
      this.workSignaled = true;
      this.pump();
    });
    queue.onLost((taskIds) => {
      for (const id of taskIds) {
        const run = this.runs.get(id);
        if (!run) continue;
        run.log.warn(
          'another replica took this task over (this one was cut off from the store); stopping here',
        );
        run.detach();
      }
    });
    this.poller = setInterval(() => this.pump(), options.pollMs ?? 2000);
    this.poller.unref();
  }

  /** Registers a hosted agent. Names are unique per process. */
  addAgent(agent: HostedAgent): void {
    if (this.agents.has(agent.name)) throw new Error(`Agent "${agent.name}" is defined twice`);
    this.agents.set(agent.name, agent);
  }

  /** The hosted agent, or AGENT_NOT_FOUND naming the ones that exist. */
  agent(name: string): HostedAgent {
    const agent = this.agents.get(name);
    if (!agent) {
      throw err(
        'AGENT_NOT_FOUND',
        `No agent named "${name}" on this server (agents: ${[...this.agents.keys()].join(', ')})`,
        {
          agent: name,
        },
      );
    }
    return agent;
  }

  /** All hosted agents, in configuration order. */
  listAgents(): HostedAgent[] {
    return [...this.agents.values()];
  }

  /** The agent's extended card (GetExtendedAgentCard), or EXTENDED_AGENT_CARD_NOT_CONFIGURED. */
  extendedCard(agent: HostedAgent): AgentCard {
    if (!agent.extendedCard) {
      throw err('EXTENDED_AGENT_CARD_NOT_CONFIGURED', `Agent "${agent.name}" has no extended agent card`);
    }
    return agent.extendedCard;
  }

  /** The SDK `A2ARequestHandler` for one agent, for the SDK's transport handlers. */
  handlerFor(agentName: string): AgentRequestHandler {
    return new AgentRequestHandler(this, this.agent(agentName));
  }

  stats(): EngineStats {
    return {
      runs: this.runs.size,
      running: this.active,
      queued: this.store.queue.waiting,
      subscribers: this.store.events.followerCount(),
      pushPending: this.push.pending(),
    };
  }

  /** Whether new work is accepted (false once draining for shutdown). */
  get isAccepting(): boolean {
    return this.accepting;
  }

  // ---------------------------------------------------------------- messages

  /**
   * SendMessage: blocks until the task is at rest unless `returnImmediately`.
   * `onStarted` learns the task id as soon as the task exists (a transport that sees its
   * caller give up can then cancel the task).
   */
  async sendMessage(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    onStarted?: (taskId: string) => void,
  ): Promise<Message | Task> {
    const historyLength = params.configuration?.historyLength;
    const { run, waiting } = await this.startMessage(agent, params, ctx);
    onStarted?.(run.id);
    if (params.configuration?.returnImmediately) {
      run.exposed = true;
      return limitHistory(run.task, historyLength);
    }
    if (!waiting) throw new Error('no outcome to wait for'); // unreachable: blocking calls always get one
    const outcome: RunOutcome = await waiting;
    if (outcome.kind === 'message') return outcome.message;
    return limitHistory(outcome.task, historyLength);
  }

  /**
   * SendStreamingMessage: a new task streams from its first event (the Task, or a direct
   * Message); a continuation streams a snapshot first. Ends at a terminal or interrupted
   * state.
   */
  async *sendMessageStream(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    signal?: AbortSignal,
  ): AsyncGenerator<StreamRecord, void, undefined> {
    this.requireStreaming(agent);
    const controller = linkedController(signal);
    try {
      let follower: AsyncIterable<StreamRecord> | undefined;
      let snapshot: StreamRecord | undefined;
      // The follower is registered before the agent starts, so even an instant agent cannot outrun it.
      await this.startMessage(agent, params, ctx, (run) => {
        if (run.initialLogged)
          snapshot = { seq: run.lastSeq, event: { payload: { $case: 'task', value: run.task } } };
        follower = this.store.events.follow(run.id, run.lastSeq, controller.signal);
      });
      if (snapshot) yield snapshot;
      if (follower) yield* this.until(follower, true);
    } finally {
      controller.abort();
    }
  }

  /** SubscribeToTask: the current Task first, then live events until a terminal state. */
  async *subscribe(
    agent: HostedAgent,
    params: SubscribeToTaskRequest,
    ctx: ServerCallContext,
    options: { signal?: AbortSignal; afterSeq?: number } = {},
  ): AsyncGenerator<StreamRecord, void, undefined> {
    this.requireStreaming(agent);
    const id = validateTaskId(params.id);
    const current = await this.current(agent, id, tenantOf(params.tenant, ctx));
    const controller = linkedController(options.signal);
    try {
      if (options.afterSeq !== undefined && options.afterSeq > current.lastSeq) {
        throw invalidParams(
          'Last-Event-ID',
          `is ${options.afterSeq} but task ${id} has only ${current.lastSeq} events`,
        );
      }
      if (options.afterSeq !== undefined) {
        // A resume (SSE Last-Event-ID) replays what the client missed, even if that ends the task.
        yield* this.until(this.store.events.follow(id, options.afterSeq, controller.signal), false);
        return;
      }
      if (isTerminal(current.task.status?.state)) {
        throw err(
          'UNSUPPORTED_OPERATION',
          `Task ${id} is ${stateLabel(current.task.status?.state)}; SubscribeToTask works only on tasks that have not finished`,
          { taskId: id },
        );
      }
      const follower = this.store.events.follow(id, current.lastSeq, controller.signal);
      yield { seq: current.lastSeq, event: { payload: { $case: 'task', value: current.task } } };
      yield* this.until(follower, false);
    } finally {
      controller.abort();
    }
  }

  // ---------------------------------------------------------------- tasks

  async getTask(agent: HostedAgent, params: GetTaskRequest, ctx: ServerCallContext): Promise<Task> {
    const id = validateTaskId(params.id);
    validateHistoryLength(params.historyLength);
    const current = await this.current(agent, id, tenantOf(params.tenant, ctx));
    return limitHistory(current.task, params.historyLength);
  }

  async listTasks(
    agent: HostedAgent,
    params: ListTasksRequest,
    ctx: ServerCallContext,
  ): Promise<ListTasksResponse> {
    const { pageSize, state, updatedAfter } = validateListTasks(params);
    const page = await this.store.tasks.list({
      agent: agent.name,
      tenant: tenantOf(params.tenant, ctx),
      contextId: params.contextId || undefined,
      state,
      updatedAfter,
      pageSize,
      pageToken: params.pageToken,
    });
    return {
      tasks: page.tasks.map((t) =>
        limitHistory(this.runs.get(t.task.id)?.task ?? t.task, params.historyLength),
      ),
      nextPageToken: page.nextPageToken,
      pageSize,
      totalSize: page.totalSize,
    };
  }

  async cancelTask(agent: HostedAgent, params: CancelTaskRequest, ctx: ServerCallContext): Promise<Task> {
    const id = validateTaskId(params.id);
    const tenant = tenantOf(params.tenant, ctx);
    let run = this.runs.get(id);
    if (!run) {
      const loaded = await this.load(agent, id, tenant);
      const stored = await this.replayed(loaded);
      assertCancelable(stored.task);
      // Still waiting in the queue: taken out, nobody will run it. Leased: running on a replica.
      if (!(await this.store.queue.remove(id, agent.name)) && (await this.store.queue.isLeased(id))) {
        // Executing on another replica: ask it to cancel, and answer with the outcome it records.
        const settled = await this.cancelElsewhere(stored);
        if (settled) return settled;
        this.logger.warn(
          { task_id: id },
          'the replica executing the task did not cancel it in time; canceling here',
        );
      }
      run = new TaskRun(this.runDeps(), agent, stored);
      run.indexedAs(loaded);
      // The task's webhooks are told of the cancel like of any other event.
      run.pushConfigs = await this.store.pushConfigs.list(id);
      await run.setStatus(TaskState.TASK_STATE_CANCELED);
      return run.task;
    }
    if (run.agent !== agent || run.tenant !== tenant) throw taskNotFound(id);
    assertCancelable(run.task);
    await this.cancelRun(run, 'canceled by client');
    return run.task;
  }

  // ---------------------------------------------------------------- push notification configs

  async createPushConfig(
    agent: HostedAgent,
    params: TaskPushNotificationConfig,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    this.requirePush(agent);
    validatePushConfig(params);
    const tenant = tenantOf(params.tenant, ctx);
    await this.current(agent, params.taskId, tenant);
    const config: TaskPushNotificationConfig = { ...params, tenant, id: params.id || randomUUID() };
    await this.store.pushConfigs.put(config);
    const run = this.runs.get(config.taskId);
    if (run) run.pushConfigs = [...run.pushConfigs.filter((c) => c.id !== config.id), config];
    return config;
  }

  async getPushConfig(
    agent: HostedAgent,
    params: GetTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    this.requirePush(agent);
    validateTaskId(params.taskId, 'taskId');
    validateTaskId(params.id, 'id');
    await this.current(agent, params.taskId, tenantOf(params.tenant, ctx));
    const config = await this.store.pushConfigs.get(params.taskId, params.id);
    if (!config) {
      throw err('TASK_NOT_FOUND', `Task ${params.taskId} has no push notification config "${params.id}"`, {
        taskId: params.taskId,
        configId: params.id,
      });
    }
    return config;
  }

  async listPushConfigs(
    agent: HostedAgent,
    params: ListTaskPushNotificationConfigsRequest,
    ctx: ServerCallContext,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    this.requirePush(agent);
    validateTaskId(params.taskId, 'taskId');
    await this.current(agent, params.taskId, tenantOf(params.tenant, ctx));
    return { configs: await this.store.pushConfigs.list(params.taskId), nextPageToken: '' };
  }

  async deletePushConfig(
    agent: HostedAgent,
    params: DeleteTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<void> {
    this.requirePush(agent);
    validateTaskId(params.taskId, 'taskId');
    validateTaskId(params.id, 'id');
    await this.current(agent, params.taskId, tenantOf(params.tenant, ctx));
    await this.store.pushConfigs.delete(params.taskId, params.id);
    const run = this.runs.get(params.taskId);
    if (run) run.pushConfigs = run.pushConfigs.filter((c) => c.id !== params.id);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Graceful drain: refuse new work, give running tasks until `deadlineMs`, then stop what
   * is left. With a durable queue (Redis) unfinished tasks go back to the queue for another
   * replica, and tasks still waiting stay there; with the embedded store they are marked
   * FAILED with the reason, since nothing else could run them.
   */
  async shutdown(deadlineMs: number): Promise<{ unfinished: number }> {
    this.accepting = false;
    clearInterval(this.poller);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadlineMs);
    });
    const result = await Promise.race([this.idle().then(() => 'idle' as const), timedOut]);
    clearTimeout(timer);
    let unfinished = 0;
    if (result === 'timeout') {
      const left = [...this.runs.values()].filter((r) => !isTerminal(r.state));
      unfinished = left.length;
      if (this.store.queue.durable) {
        await Promise.all(
          left.map(async (run) => {
            run.detach();
            await this.store.queue
              .requeue(run.id)
              .catch((error: unknown) =>
                run.log.warn({ err: error }, 'could not hand the task back; its lease will lapse'),
              );
          }),
        );
        if (left.length > 0)
          this.logger.info({ tasks: left.length }, 'handed unfinished tasks back to the queue');
      } else {
        const waiting = await this.store.queue.take([...this.agents.keys()], Number.MAX_SAFE_INTEGER);
        unfinished += waiting.length;
        await Promise.all([
          ...left.map(async (run) => {
            run.abort();
            await run.setStatus(
              TaskState.TASK_STATE_FAILED,
              'The server shut down before this task finished',
            );
          }),
          ...waiting.map((item) => this.failUnstarted(item, 'The server shut down before this task started')),
        ]);
      }
    }
    await this.push.close();
    return { unfinished };
  }

  // ---------------------------------------------------------------- internals

  private async startMessage(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    beforeDispatch?: (run: TaskRun) => void,
  ): Promise<{ run: TaskRun; waiting: Promise<RunOutcome> | undefined }> {
    const message = validateSendMessage(params);
    if (!this.accepting) throw err('SHUTTING_DOWN');
    const tenant = tenantOf(params.tenant, ctx);
    const satisfaction = satisfactionOf(message);
    if (satisfaction !== undefined)
      this.options.business?.recordMean(SATISFACTION, satisfaction, SATISFACTION_HELP);
    // A free worker here runs the task at once; the slot is reserved before any await,
    // so concurrent requests cannot overbook it. Otherwise the task waits in the queue.
    const here = this.active < this.options.maxConcurrent;
    if (here) this.active++;
    let leased = false;
    const lease = here
      ? (id: string, initial?: Task): Promise<number> => {
          leased = true;
          // Only a durable queue needs what a lease carries (another replica may take it over).
          const payload = this.store.queue.durable ? queuedPayload(agent, params, ctx, tenant, initial) : '';
          return this.store.queue.lease(id, agent.name, payload);
        }
      : undefined;
    // A blocking SendMessage on a free worker stores its task with its first events (one
    // write fewer): nobody can know its id before the answer. The lease, written first,
    // carries the task, so a replica taking it over can store it.
    const deferCreate =
      here &&
      !beforeDispatch &&
      params.configuration?.returnImmediately !== true &&
      !params.configuration?.taskPushNotificationConfig;
    let run: TaskRun;
    try {
      run = message.taskId
        ? await this.continueTask(agent, message, tenant, lease)
        : await this.createTask(agent, message, tenant, params, lease, deferCreate);
    } catch (error) {
      if (here) this.release();
      if (leased && message.taskId) void this.store.queue.ack(message.taskId).catch(() => {});
      throw error;
    }
    if (here) {
      const waiting = run.waitForRest();
      beforeDispatch?.(run);
      await this.runHere(run, params, ctx);
      return { run, waiting };
    }
    // Queued: whichever replica takes it runs it. A blocking caller follows its event log
    // (registered before the push, so no event can slip past).
    beforeDispatch?.(run);
    const controller = new AbortController();
    const wanted = !beforeDispatch && params.configuration?.returnImmediately !== true;
    const follower = wanted ? this.store.events.follow(run.id, run.lastSeq, controller.signal) : undefined;
    try {
      // A follow-up to a task already admitted is never refused for queue depth.
      const depth = message.taskId ? Number.MAX_SAFE_INTEGER : this.options.maxQueueDepth;
      await this.store.queue.push(run.id, agent.name, queuedPayload(agent, params, ctx, tenant), depth);
    } catch (error) {
      controller.abort();
      if (!message.taskId) await this.discardProvisionalTask(run).catch(() => {});
      throw error;
    }
    return { run, waiting: follower ? this.awaitElsewhere(run, follower, controller) : undefined };
  }

  private async createTask(
    agent: HostedAgent,
    message: Message,
    tenant: string,
    params: SendMessageRequest,
    lease: ((id: string, initial?: Task) => Promise<number>) | undefined,
    deferCreate: boolean,
  ): Promise<TaskRun> {
    const pushConfig = params.configuration?.taskPushNotificationConfig;
    if (pushConfig) this.requirePush(agent);
    const id = randomUUID();
    const contextId = message.contextId || randomUUID();
    const now = Date.now();
    const task: Task = {
      id,
      contextId,
      status: {
        state: TaskState.TASK_STATE_SUBMITTED,
        message: undefined,
        timestamp: isoNow(),
      },
      artifacts: [],
      history: [{ ...message, taskId: id, contextId }],
      metadata: undefined,
    };
    const record = { task, agent: agent.name, tenant, lastSeq: 0, updatedAt: now };
    let stored: StoredTask;
    if (deferCreate && lease) {
      // Version 0: the run's first commit creates it.
      await lease(id, task);
      stored = { ...record, version: 0 };
    } else {
      // The lease is sent first (same connection, same batch): the task is never stored
      // without a record of who runs it.
      [, stored] = await Promise.all([lease?.(id), this.store.tasks.create(record)]);
    }
    const run = new TaskRun(this.runDeps(), agent, stored);
    run.exposed = params.configuration?.returnImmediately === true;
    if (pushConfig) {
      const config = { ...pushConfig, tenant, taskId: id, id: pushConfig.id || randomUUID() };
      await this.store.pushConfigs.put(config);
      run.pushConfigs = [config];
    }
    return run;
  }

  private async continueTask(
    agent: HostedAgent,
    message: Message,
    tenant: string,
    lease: ((id: string, initial?: Task) => Promise<number>) | undefined,
  ): Promise<TaskRun> {
    const id = message.taskId;
    if (this.runs.has(id)) {
      throw err(
        'UNSUPPORTED_OPERATION',
        `Task ${id} is still working; send a follow-up when it asks for input`,
        {
          taskId: id,
        },
      );
    }
    const stored = await this.load(agent, id, tenant);
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
    const run = new TaskRun(this.runDeps(), agent, stored);
    run.exposed = true;
    const [, configs] = await Promise.all([lease?.(id), this.store.pushConfigs.list(id)]);
    run.pushConfigs = configs;
    // Saved with the version read above: of two follow-ups racing on two replicas, one wins.
    await run.saveSnapshot(appendHistory(run.task, { ...message, contextId: stored.task.contextId }));
    return run;
  }

  /** Starts the run on this replica, in the worker slot already reserved for it. */
  private async runHere(run: TaskRun, params: SendMessageRequest, ctx: ServerCallContext): Promise<void> {
    let requestContext: AgentdRequestContext;
    try {
      requestContext = await this.requestContext(run, params, ctx);
    } catch (error) {
      this.release();
      void this.store.queue.ack(run.id).catch(() => {});
      await run.setStatus(TaskState.TASK_STATE_FAILED, describe(error));
      throw error;
    }
    const requestId = ctx.state.get(REQUEST_ID_STATE_KEY);
    if (typeof requestId === 'string') run.requestId = requestId;
    run.traceContext = ctx.state.get(TRACE_CONTEXT_STATE_KEY) as Context | undefined;
    this.runs.set(run.id, run);
    void this.execute(run, requestContext);
  }

  private async requestContext(
    run: TaskRun,
    params: SendMessageRequest,
    ctx: ServerCallContext,
  ): Promise<AgentdRequestContext> {
    const message = run.task.history[run.task.history.length - 1] as Message;
    const request: SendMessageRequest = { ...params, message };
    const referenceTasks =
      message.referenceTaskIds.length > 0
        ? await this.referenceTasks(run.agent, message, run.tenant)
        : undefined;
    return new AgentdRequestContext(
      request,
      run.id,
      run.task.contextId,
      ctx,
      message.taskId ? run.task : undefined,
      referenceTasks,
      run.agent.name,
      run,
    );
  }

  /** Takes queued work into this replica's free worker slots. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    // A draining replica leaves durable work to the others; the embedded store finishes its queue.
    if (!this.accepting && this.store.queue.durable) return;
    const free = this.options.maxConcurrent - this.active;
    if (free <= 0 || this.agents.size === 0) return;
    this.pumping = true;
    this.workSignaled = false;
    // Slots are not reserved during the take, so requests arriving meanwhile still run at
    // once; a task taken when no slot is left any more goes back to the head of the queue.
    this.store.queue
      .take([...this.agents.keys()], free)
      .then(
        (items) => {
          for (const item of items) {
            if (this.active < this.options.maxConcurrent) {
              this.active++;
              void this.resume(item);
            } else {
              void this.store.queue.requeue(item.taskId).catch((error: unknown) => {
                this.logger.warn(
                  { err: error, task_id: item.taskId },
                  'could not hand back a task; its lease will lapse',
                );
              });
            }
          }
        },
        (error: unknown) => {
          // A Redis outage is logged once by the store; here it would repeat every poll.
          const unavailable = error instanceof AgentdError && error.code === 'STORE_UNAVAILABLE';
          this.logger[unavailable ? 'debug' : 'warn']({ err: error }, 'could not take queued work; retrying');
        },
      )
      .finally(() => {
        this.pumping = false;
        this.notifyIdle();
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  /**
   * Runs a task taken from the queue: queued here or on another replica, or taken over
   * from a replica that died. The snapshot is brought up to the event log first (the dead
   * replica may have logged events it never saved), then the agent runs again.
   */
  private async resume(item: WorkItem): Promise<void> {
    let started = false;
    try {
      const queued = JSON.parse(item.payload) as QueuedRequest;
      const agent = this.agents.get(queued.agent);
      const found = (await this.store.tasks.get(item.taskId)) ?? (await this.storeDeferred(queued));
      if (!agent || !found || found.agent !== agent.name) {
        await this.store.queue.ack(item.taskId);
        return;
      }
      const stored = await this.replayed(found);
      const run = new TaskRun(this.runDeps(), agent, stored);
      run.indexedAs(found);
      run.attempt = item.attempt;
      const request = SendMessageRequestCodec.fromJSON(queued.request);
      run.exposed = request.configuration?.returnImmediately === true;
      if (isTerminal(run.state)) {
        // Finished (or canceled) before this replica got to it.
        if (stored.lastSeq !== found.lastSeq) await run.saveSnapshot(run.task);
        await this.store.events.close(run.id);
        await this.store.queue.ack(run.id);
        return;
      }
      run.pushConfigs = await this.store.pushConfigs.list(run.id);
      if (item.attempt > this.options.maxAttempts) {
        run.log.error({ attempt: item.attempt }, 'task given up: replicas died running it too often');
        await run.setStatus(
          TaskState.TASK_STATE_FAILED,
          `Gave up after ${item.attempt - 1} attempts: the replicas running this task stopped before it finished`,
        );
        await this.store.queue.ack(run.id);
        return;
      }
      if (item.attempt > 1) {
        run.log.info({ attempt: item.attempt }, 'taking over a task whose replica stopped');
        await run.saveSnapshot({
          ...run.task,
          metadata: { ...run.task.metadata, [ATTEMPT_KEY]: item.attempt },
        });
      }
      const ctx = new ServerCallContext({ requestedExtensions: queued.extensions });
      const requestContext = await this.requestContext(run, request, ctx);
      started = true;
      this.runs.set(run.id, run);
      await this.execute(run, requestContext);
    } catch (error) {
      // Store trouble: the lease lapses and the task is taken again later.
      this.logger.error({ err: error, task_id: item.taskId }, 'could not start a queued task');
    } finally {
      if (!started) this.release();
    }
  }

  /**
   * A task whose replica died before its first commit stored it (a deferred create): it
   * is stored now from what its lease carries. Undefined when the lease carries none.
   */
  private async storeDeferred(queued: QueuedRequest): Promise<StoredTask | undefined> {
    if (!queued.task) return undefined;
    const task = TaskCodec.fromJSON(queued.task);
    const record = { task, agent: queued.agent, tenant: queued.tenant, lastSeq: 0, updatedAt: Date.now() };
    try {
      return await this.store.tasks.create(record);
    } catch (error) {
      // Stored meanwhile after all (the dead replica's commit landed late).
      if (error instanceof AgentdError && error.code === 'TASK_CONFLICT')
        return this.store.tasks.get(task.id);
      throw error;
    }
  }

  /** Marks a task that never started FAILED (embedded store shutting down). */
  private async failUnstarted(item: WorkItem, reason: string): Promise<void> {
    const stored = await this.store.tasks.get(item.taskId);
    const agent = stored && this.agents.get(stored.agent);
    if (!stored || !agent || isTerminal(stored.task.status?.state)) return;
    const run = new TaskRun(this.runDeps(), agent, stored);
    run.pushConfigs = await this.store.pushConfigs.list(run.id);
    await run.setStatus(TaskState.TASK_STATE_FAILED, reason);
    await this.store.queue.ack(run.id);
  }

  /** The stored snapshot plus any logged events it lacks. */
  private async replayed(stored: StoredTask): Promise<StoredTask> {
    const events = await this.store.events.read(stored.task.id, stored.lastSeq);
    if (events.length === 0) return stored;
    let task = stored.task;
    for (const record of events) task = applyStreamEvent(task, record.event);
    return { ...stored, task, lastSeq: events[events.length - 1]?.seq ?? stored.lastSeq };
  }

  /**
   * The outcome of a task another replica runs, for a blocking SendMessage: its events
   * folded onto the snapshot until it rests (terminal, interrupted, or a direct reply).
   */
  private async awaitElsewhere(
    run: TaskRun,
    follower: AsyncIterable<StreamRecord>,
    controller: AbortController,
  ): Promise<RunOutcome> {
    let task = run.task;
    try {
      for await (const record of follower) {
        const p = record.event.payload;
        if (p?.$case === 'message' && record.seq === 1) return { kind: 'message', message: p.value };
        task = applyStreamEvent(task, record.event);
        const state = task.status?.state;
        if (isTerminal(state) || isInterrupted(state)) return { kind: 'task', task };
      }
    } finally {
      controller.abort();
    }
    // The log ended without a final state (deleted): the store has the last word.
    return { kind: 'task', task: (await this.store.tasks.get(run.id))?.task ?? task };
  }

  private async execute(run: TaskRun, requestContext: AgentdRequestContext): Promise<void> {
    if (run.isAborted || isTerminal(run.state)) {
      this.finishRun(run);
      return;
    }
    run.executing = true;
    const started = performance.now();
    this.options.observer?.workflowStarted(run.agent.name);
    const bus = new RunEventBus(run);
    run.bus = bus;
    let acked = false;
    const ack = (): void => {
      if (acked || run.isDetached) return;
      acked = true;
      void this.store.queue
        .ack(run.id)
        .catch((error: unknown) =>
          run.log.warn({ err: error }, 'could not end the task lease; it will lapse'),
        );
    };
    // Ending the lease rides with the write of the final state (queued behind it, same round trip).
    run.onFinalWrite = ack;
    let failure: unknown;
    try {
      await run.agent.executor.execute(requestContext, bus);
    } catch (error) {
      failure = error;
    }
    try {
      await run.flush();
      if (run.isDetached) {
        // Handed back to the queue (shutdown) or taken over: another replica finishes it.
      } else if (run.reply) {
        await this.discardProvisionalTask(run);
      } else if (run.isAborted) {
        // Canceled or shutting down: whoever aborted the run records its final state.
      } else if (failure !== undefined && !isTerminal(run.state)) {
        run.log.error({ err: failure }, 'agent failed');
        this.options.observer?.error('AGENT_FAILED', 'agent');
        await run.setStatus(
          TaskState.TASK_STATE_FAILED,
          `Agent "${run.agent.name}" failed: ${describe(failure)}`,
        );
      } else if (failure !== undefined) {
        run.log.warn({ err: failure }, 'agent threw after the task had finished');
      } else if (!isTerminal(run.state) && !isInterrupted(run.state)) {
        run.log.warn({ state: stateLabel(run.state) }, 'agent returned without reaching a final state');
        await run.setStatus(
          TaskState.TASK_STATE_FAILED,
          `Agent "${run.agent.name}" returned without reporting a final state (last state: ${stateLabel(run.state)})`,
        );
      }
    } catch (error) {
      run.log.error({ err: error }, 'failed to finalise task');
    } finally {
      run.executing = false;
      this.finishRun(run);
      run.onFinalWrite = undefined;
      ack();
      this.options.observer?.workflowEnded(
        run.agent.name,
        this.endStatus(run),
        (performance.now() - started) / 1000,
      );
      this.release();
    }
  }

  /**
   * How a run ended, for metrics: its final state, `handed_off` when another replica took
   * it, and for an aborted run whose final state is still being recorded, the state it is
   * getting (canceled by a client, failed by a shutdown).
   */
  private endStatus(run: TaskRun): string {
    if (run.isDetached) return 'handed_off';
    const state = run.state;
    if (run.isAborted && !isTerminal(state) && !isInterrupted(state))
      return this.accepting ? 'canceled' : 'failed';
    return stateLabel(state).replace(/-/g, '_');
  }

  /** Frees a worker slot; takes queued work into it when there may be some. */
  private release(): void {
    this.active--;
    if (this.workSignaled || this.store.queue.waiting > 0) this.pump();
    this.notifyIdle();
  }

  /** Resolves when this replica runs nothing (and, on the embedded store, nothing waits). */
  private idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.active === 0 && (this.store.queue.durable || this.store.queue.waiting === 0);
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Cancels a task another replica executes: publishes the request, then follows the
   * task's events until a terminal state (bounded by the cancel grace plus a margin).
   * Returns the final task, or undefined when the owner did not answer in time.
   */
  private async cancelElsewhere(stored: StoredTask): Promise<Task | undefined> {
    const id = stored.task.id;
    const controller = new AbortController();
    const follower = this.store.events.follow(id, stored.lastSeq, controller.signal);
    const timer = setTimeout(() => controller.abort(), this.options.cancelGraceMs + 3000);
    try {
      await this.store.queue.requestCancel(id);
      let task = stored.task;
      for await (const record of follower) {
        task = applyStreamEvent(task, record.event);
        if (isTerminal(task.status?.state)) return task;
      }
      return undefined;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  private finishRun(run: TaskRun): void {
    if (this.runs.get(run.id) === run) this.runs.delete(run.id);
  }

  /** The agent answered with a Message: the provisional task never existed for the client. */
  private async discardProvisionalTask(run: TaskRun): Promise<void> {
    await this.store.tasks.delete(run.id);
    await this.store.events.delete(run.id);
  }

  private async cancelRun(run: TaskRun, reason: string): Promise<void> {
    run.abort();
    if (run.executing && run.bus) {
      try {
        await withTimeout(run.agent.executor.cancelTask(run.id, run.bus), this.options.cancelGraceMs);
      } catch (error) {
        this.logger.warn(
          { err: error, task_id: run.id, agent_name: run.agent.name },
          'agent cancelTask failed',
        );
      }
      await run.flush();
    }
    if (!isTerminal(run.state)) {
      this.logger.debug({ task_id: run.id, reason }, 'task canceled');
      await run.setStatus(TaskState.TASK_STATE_CANCELED);
    }
  }

  /** Yields followed records until one ends the stream. */
  private async *until(
    follower: AsyncIterable<StreamRecord>,
    stopAtInterrupted: boolean,
  ): AsyncGenerator<StreamRecord, void, undefined> {
    for await (const record of follower) {
      yield record;
      if (endsStream(record.event, stopAtInterrupted)) return;
    }
  }

  /**
   * The freshest view of a task: the live run if it executes here, else the stored
   * snapshot plus the logged events it does not have yet. The replica running a task
   * appends each event before it saves the snapshot, so a client that saw an event on a
   * stream from one replica finds it in GetTask on any other.
   */
  private async current(
    agent: HostedAgent,
    id: string,
    tenant: string,
  ): Promise<{ task: Task; lastSeq: number }> {
    const run = this.runs.get(id);
    if (run) {
      if (run.agent !== agent || run.tenant !== tenant) throw taskNotFound(id);
      return { task: run.task, lastSeq: run.lastSeq };
    }
    const loaded = await this.load(agent, id, tenant);
    const stored = isTerminal(loaded.task.status?.state) ? loaded : await this.replayed(loaded);
    return { task: stored.task, lastSeq: stored.lastSeq };
  }

  private async load(agent: HostedAgent, id: string, tenant: string): Promise<StoredTask> {
    const stored = await this.store.tasks.get(id);
    if (!stored || stored.agent !== agent.name || stored.tenant !== tenant) throw taskNotFound(id);
    return stored;
  }

  private async referenceTasks(agent: HostedAgent, message: Message, tenant: string): Promise<Task[]> {
    const found: Task[] = [];
    for (const id of message.referenceTaskIds) {
      const stored = await this.store.tasks.get(id);
      if (stored && stored.agent === agent.name && stored.tenant === tenant) found.push(stored.task);
    }
    return found;
  }

  private runDeps(): RunDeps {
    return {
      store: this.store,
      push: this.push,
      logger: this.logger,
      business: this.options.business,
      caller: this.caller,
    };
  }

  private requireStreaming(agent: HostedAgent): void {
    if (!agent.card.capabilities?.streaming) {
      throw err('UNSUPPORTED_OPERATION', `Agent "${agent.name}" does not support streaming`);
    }
  }

  private requirePush(agent: HostedAgent): void {
    if (!agent.card.capabilities?.pushNotifications) {
      throw err(
        'PUSH_NOTIFICATION_NOT_SUPPORTED',
        `Agent "${agent.name}" does not support push notifications`,
      );
    }
  }
}

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
    return this.engine.createPushConfig(this.agent, params, ctx);
  }

  getTaskPushNotificationConfig(
    params: GetTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    return this.engine.getPushConfig(this.agent, params, ctx);
  }

  listTaskPushNotificationConfigs(
    params: ListTaskPushNotificationConfigsRequest,
    ctx: ServerCallContext,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    return this.engine.listPushConfigs(this.agent, params, ctx);
  }

  deleteTaskPushNotificationConfig(
    params: DeleteTaskPushNotificationConfigRequest,
    ctx: ServerCallContext,
  ): Promise<void> {
    return this.engine.deletePushConfig(this.agent, params, ctx);
  }

  async *resubscribe(
    params: SubscribeToTaskRequest,
    ctx: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    for await (const r of this.engine.subscribe(this.agent, params, ctx, { signal: signalOf(ctx) }))
      yield r.event;
  }
}

/** The seed's business metric, fed from message feedback (`metadata.feedback.satisfaction`). */
const SATISFACTION = 'customer_satisfaction_score';
const SATISFACTION_HELP = 'Average customer satisfaction score';

/** A satisfaction score a client sent with a message (`metadata.feedback.satisfaction`, 0-10). */
function satisfactionOf(message: Message): number | undefined {
  const feedback = (message.metadata as Record<string, unknown> | undefined)?.feedback;
  const score = (feedback as Record<string, unknown> | undefined)?.satisfaction;
  return typeof score === 'number' && Number.isFinite(score) && score >= 0 && score <= 10 ? score : undefined;
}

/** Task metadata key with the attempt number, set from the second attempt on. */
export const ATTEMPT_KEY = 'agentd.attempt';

/** What the work queue holds for a task, so any replica can run it. */
interface QueuedRequest {
  readonly agent: string;
  readonly tenant: string;
  /** The SendMessageRequest (proto JSON) without its message: that is the task's last history entry. */
  readonly request: unknown;
  readonly extensions: string[] | undefined;
  /** The new task (proto JSON) when its run stores it with its first events (a deferred create). */
  readonly task?: unknown;
}

function queuedPayload(
  agent: HostedAgent,
  params: SendMessageRequest,
  ctx: ServerCallContext,
  tenant: string,
  task?: Task,
): string {
  const queued: Omit<QueuedRequest, 'task'> = {
    agent: agent.name,
    tenant,
    // Most requests carry nothing but the message: no need to run the codec then.
    request:
      params.configuration || params.metadata
        ? SendMessageRequestCodec.toJSON({ ...params, message: undefined })
        : {},
    extensions: ctx.requestedExtensions ? [...ctx.requestedExtensions] : undefined,
  };
  const json = JSON.stringify(queued);
  // The task's text is the one its first event and snapshot reuse.
  return task ? `${json.slice(0, -1)},"task":${taskJsonText(task)}}` : json;
}

/** Key under which transports put an AbortSignal in `ServerCallContext.state`. */
export const ABORT_SIGNAL_STATE_KEY = 'agentd.abortSignal';
/** Key under which transports put the trace context of the request's server span. */
export const TRACE_CONTEXT_STATE_KEY = 'agentd.traceContext';
/** Key under which transports put the request id (`x-request-id`, or one made up) in `ServerCallContext.state`. */
export const REQUEST_ID_STATE_KEY = 'agentd.requestId';

/** A client's `x-request-id` when it is a sane token (it lands in logs), else a new one. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header) ? header : randomUUID();
}

/** A controller that also aborts when `parent` does. */
function linkedController(parent: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (parent) {
    if (parent.aborted) controller.abort();
    else
      parent.addEventListener('abort', () => controller.abort(), { once: true, signal: controller.signal });
  }
  return controller;
}

function signalOf(ctx: ServerCallContext): AbortSignal | undefined {
  const s = ctx.state.get(ABORT_SIGNAL_STATE_KEY);
  return s instanceof AbortSignal ? s : undefined;
}

function tenantOf(paramsTenant: string, ctx: ServerCallContext): string {
  return paramsTenant || ctx.tenant || '';
}

function taskNotFound(id: string): AgentdError {
  return err('TASK_NOT_FOUND', `Task ${id} not found`, { taskId: id });
}

function assertCancelable(task: Task): void {
  const state = task.status?.state;
  if (isTerminal(state)) {
    throw err(
      'TASK_NOT_CANCELABLE',
      `Task ${task.id} is already ${stateLabel(state)} and cannot be canceled`,
      {
        taskId: task.id,
      },
    );
  }
}

function endsStream(event: StreamResponse, stopAtInterrupted: boolean): boolean {
  const p = event.payload;
  if (!p) return false;
  let state: TaskState | undefined;
  if (p.$case === 'message') return true;
  if (p.$case === 'task') state = p.value.status?.state;
  else if (p.$case === 'statusUpdate') state = p.value.status?.state;
  else return false;
  return isTerminal(state) || (stopAtInterrupted && isInterrupted(state));
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
