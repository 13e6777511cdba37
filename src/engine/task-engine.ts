import { TaskState } from '@a2a-js/sdk';
import type {
  AgentCard,
  CancelTaskRequest,
  GetTaskRequest,
  ListTasksRequest,
  ListTasksResponse,
  Message,
  SendMessageRequest,
  SubscribeToTaskRequest,
  Task,
} from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { err, invalidParams } from '../errors.js';
import type { TaskEventRecord } from '../store/ports.js';
import { Tracing } from '../observability/tracing.js';
import { principalOf } from '../security/principal.js';
import { Admission } from './admission.js';
import { AgentRequestHandler } from './agent-request-handler.js';
import { linkedController, tenantOf } from './call-context.js';
import { Dispatcher } from './dispatcher.js';
import { EngineCore, type TaskEngineOptions } from './engine-core.js';
import { listedOwner, mayAccess } from './ownership.js';
import { OwnerCaps } from './owner-caps.js';
import type { HostedAgent } from './hosted-agent.js';
import { PushNotifier } from './push-notifier.js';
import { Recovery } from './recovery.js';
import { PushConfigOperations } from './push-config-operations.js';
import { endsStream, until } from './stream-records.js';
import { limitHistory } from './reducer.js';
import { RunExecutor } from './run-executor.js';
import { TaskReader, taskNotFound } from './task-reader.js';
import { TaskRun } from './task-run.js';
import { isTerminal, stateLabel } from './task-state.js';
import { validateHistoryLength, validateListTasks, validateTaskId } from './validate.js';
import { ChildInvoker, type PeerResolver } from '../workflow/children.js';
import { RegistryPeers } from '../workflow/registry-peers.js';
import { PeerPicker } from './peer-picker.js';

export type { TaskEngineOptions } from './engine-core.js';

/** A stream record: the event plus its event-log sequence (the SSE `id`). */
export type StreamRecord = TaskEventRecord;

/** Counts for health, metrics and leak tests. */
export interface EngineStats {
  readonly runs: number;
  /** Tasks executing on this replica in a worker slot. */
  readonly running: number;
  /** Tasks executing on this replica, including workflows waiting on their children (slot lent out). */
  readonly active: number;
  /** Tasks waiting for a worker (all replicas, as last seen here). */
  readonly queued: number;
  readonly subscribers: number;
  readonly pushPending: number;
}

/**
 * The one engine behind every transport: the A2A operations for all hosted agents, over
 * small parts that hold the rest — {@link Admission} (new and continued tasks),
 * {@link Dispatcher} (worker slots, queued work), {@link RunExecutor} (running an agent),
 * {@link Recovery} (takeover, remote cancel, drain hand-off) and {@link TaskReader} (the
 * one place a task is loaded for a caller). {@link TaskEngine.handlerFor} gives each agent
 * the SDK's `A2ARequestHandler` view. State lives in the store ports; the engine holds
 * only tasks that are queued or executing in this process.
 */
export class TaskEngine {
  private readonly core: EngineCore;
  private readonly push: PushNotifier;
  private readonly reader: TaskReader;
  private readonly executor: RunExecutor;
  private readonly recovery: Recovery;
  private readonly dispatcher: Dispatcher;
  private readonly admission: Admission;
  /** Finds agents by name or capability for workflow steps (replaceable: breaker-aware picking). */
  peers: PeerResolver;
  /** CreateTaskPushNotificationConfig, Get, List and Delete. */
  readonly pushConfigs: PushConfigOperations;

  constructor(options: TaskEngineOptions) {
    const tracing = options.tracing ?? Tracing.off;
    this.push = new PushNotifier(
      options.push,
      options.logger,
      options.webhooks,
      (delivered, seconds) => options.observer?.pushDelivered(delivered, seconds),
      tracing,
      (reason) => options.observer?.pushRefused?.(reason),
    );
    const { caller } = options;
    // Workflow steps pick among registered agents, skipping those whose breaker is open.
    const picker =
      options.peerPicker ??
      new PeerPicker(caller, async (capability) =>
        (await options.store.registry.list()).filter((a) =>
          a.card.skills.some((s) => s.id === capability || s.tags.includes(capability)),
        ),
      );
    this.peers = new RegistryPeers(options.store.registry, picker, options.pickStrategy, options.region);
    const children = new ChildInvoker(
      {
        find: (name) => this.core.agents.get(name),
        streamMessage: (agent, params, ctx, signal) => this.streamMessage(agent, params, ctx, signal),
        cancel: async (agent, id, tenant, ctx) => {
          await this.cancelTask(agent, { tenant, id, metadata: undefined }, ctx);
        },
      },
      caller,
      () => this.peers,
    );
    const runs = new Map<string, TaskRun>();
    const caps = new OwnerCaps(options.store, runs, options.maxTasksPerPrincipal ?? 0);
    this.core = new EngineCore(
      options,
      {
        store: options.store,
        push: this.push,
        logger: options.logger,
        business: options.business,
        caller: options.caller,
        limits: options.limits,
        ownerCaps: caps,
        children,
        tracing,
        observer: options.observer,
      },
      runs,
    );
    this.reader = new TaskReader(this.core);
    this.executor = new RunExecutor(this.core, this.reader);
    this.recovery = new Recovery(this.core, this.reader, this.executor);
    this.dispatcher = new Dispatcher(this.core, (item, slot) => this.recovery.resume(item, slot));
    this.pushConfigs = new PushConfigOperations(this.core, this.reader);
    this.admission = new Admission(
      this.core,
      this.reader,
      this.dispatcher.slots,
      this.executor,
      this.recovery,
      caps,
    );
  }

  /** Registers a hosted agent. Names are unique per process. */
  addAgent(agent: HostedAgent): void {
    const { agents } = this.core;
    if (agents.has(agent.name)) throw new Error(`Agent "${agent.name}" is defined twice`);
    agents.set(agent.name, agent);
  }

  /** The hosted agent, or AGENT_NOT_FOUND naming the ones that exist. */
  agent(name: string): HostedAgent {
    const agent = this.core.agents.get(name);
    if (!agent) {
      throw err(
        'AGENT_NOT_FOUND',
        `No agent named "${name}" on this server (agents: ${[...this.core.agents.keys()].join(', ')})`,
        { agent: name },
      );
    }
    return agent;
  }

  /** All hosted agents, in configuration order. */
  listAgents(): HostedAgent[] {
    return [...this.core.agents.values()];
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
    const { store, runs } = this.core;
    return {
      runs: runs.size,
      running: this.dispatcher.slots.inUse,
      active: countExecuting(runs.values()),
      queued: store.queue.waiting,
      subscribers: store.events.followerCount(),
      pushPending: this.push.pending(),
    };
  }

  /** Whether new work is accepted (false once draining for shutdown). */
  get isAccepting(): boolean {
    return this.core.isAccepting;
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
    this.core.options.authorizeMessage?.(agent, params, ctx);
    const historyLength = params.configuration?.historyLength;
    const { run, waiting, repeat } = await this.admission.start(agent, params, ctx);
    if (repeat) return 'task' in repeat ? limitHistory(repeat.task, historyLength) : repeat.message;
    onStarted?.(run.id);
    if (params.configuration?.returnImmediately) {
      run.exposed = true;
      return limitHistory(run.task, historyLength);
    }
    if (!waiting) throw new Error('no outcome to wait for'); // unreachable: blocking calls always get one
    const outcome = await waiting;
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
    requireStreaming(agent);
    yield* this.streamMessage(agent, params, ctx, signal);
  }

  /**
   * A message sent from inside this process (a workflow step, a durable `call()`) to a
   * hosted agent, followed until its task rests: what SendStreamingMessage yields, for any
   * agent (the caller is agentd, not a client that must know whether the agent streams).
   * A message sent again (the same messageId, after a takeover) re-attaches to the task it
   * produced, wherever that runs.
   */
  async *streamMessage(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    signal?: AbortSignal,
  ): AsyncGenerator<StreamRecord, void, undefined> {
    this.core.options.authorizeMessage?.(agent, params, ctx);
    const controller = linkedController(signal);
    try {
      let follower: AsyncIterable<StreamRecord> | undefined;
      let snapshot: StreamRecord | undefined;
      // The follower is registered before the agent starts, so even an instant agent cannot outrun it.
      const { repeat } = await this.admission.start(agent, params, ctx, (run) => {
        if (run.initialLogged)
          snapshot = { seq: run.lastSeq, event: { payload: { $case: 'task', value: run.task } } };
        follower = this.core.store.events.follow(run.id, run.lastSeq, controller.signal);
      });
      if (repeat) {
        // Sent before: the task it produced as it is now, then what follows until it rests.
        if ('message' in repeat) {
          yield { seq: 1, event: { payload: { $case: 'message', value: repeat.message } } };
          return;
        }
        snapshot = { seq: repeat.lastSeq, event: { payload: { $case: 'task', value: repeat.task } } };
        if (!endsStream(snapshot.event, true))
          follower = this.core.store.events.follow(repeat.task.id, repeat.lastSeq, controller.signal);
      }
      if (snapshot) yield snapshot;
      if (follower) yield* until(follower, true);
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
    requireStreaming(agent);
    const id = validateTaskId(params.id);
    const current = await this.reader.current(agent, id, tenantOf(params.tenant, ctx), principalOf(ctx));
    const events = this.core.store.events;
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
        yield* until(events.follow(id, options.afterSeq, controller.signal), false);
        return;
      }
      if (isTerminal(current.task.status?.state)) {
        throw err(
          'UNSUPPORTED_OPERATION',
          `Task ${id} is ${stateLabel(current.task.status?.state)}; SubscribeToTask works only on tasks that have not finished`,
          { taskId: id },
        );
      }
      const follower = events.follow(id, current.lastSeq, controller.signal);
      yield { seq: current.lastSeq, event: { payload: { $case: 'task', value: current.task } } };
      yield* until(follower, false);
    } finally {
      controller.abort();
    }
  }

  // ---------------------------------------------------------------- tasks

  async getTask(agent: HostedAgent, params: GetTaskRequest, ctx: ServerCallContext): Promise<Task> {
    const id = validateTaskId(params.id);
    validateHistoryLength(params.historyLength);
    const current = await this.reader.current(agent, id, tenantOf(params.tenant, ctx), principalOf(ctx));
    return limitHistory(current.task, params.historyLength);
  }

  async listTasks(
    agent: HostedAgent,
    params: ListTasksRequest,
    ctx: ServerCallContext,
  ): Promise<ListTasksResponse> {
    const { pageSize, state, updatedAfter } = validateListTasks(params);
    const page = await this.core.store.tasks.list({
      agent: agent.name,
      tenant: tenantOf(params.tenant, ctx),
      owner: listedOwner(principalOf(ctx)),
      contextId: params.contextId || undefined,
      state,
      updatedAfter,
      pageSize,
      pageToken: params.pageToken,
    });
    return {
      tasks: page.tasks.map((t) =>
        limitHistory(this.core.runs.get(t.task.id)?.task ?? t.task, params.historyLength),
      ),
      nextPageToken: page.nextPageToken,
      pageSize,
      totalSize: page.totalSize,
    };
  }

  async cancelTask(agent: HostedAgent, params: CancelTaskRequest, ctx: ServerCallContext): Promise<Task> {
    const id = validateTaskId(params.id);
    const tenant = tenantOf(params.tenant, ctx);
    const principal = principalOf(ctx);
    const { store, runs, logger } = this.core;
    const run = runs.get(id);
    if (run) {
      if (run.agent !== agent || run.tenant !== tenant || !mayAccess(principal, run.owner))
        throw taskNotFound(id);
      if (alreadyCanceled(run.task)) return run.task;
      await this.executor.cancel(run, 'canceled by client');
      return run.task;
    }
    const loaded = await this.reader.load(agent, id, tenant, principal);
    const stored = await this.reader.replayed(loaded);
    if (alreadyCanceled(stored.task)) return stored.task;
    // Still waiting in the queue: taken out, nobody will run it. Leased: running on a replica.
    if (!(await store.queue.remove(id, agent.name)) && (await store.queue.isLeased(id))) {
      // Executing on another replica: ask it to cancel, and answer with the outcome it records.
      const settled = await this.recovery.cancelElsewhere(stored);
      if (settled) return settled;
      logger.warn(
        { task_id: id },
        'the replica executing the task did not cancel it in time; canceling here',
      );
    }
    const canceled = new TaskRun(this.core.runDeps, agent, stored);
    canceled.indexedAs(loaded);
    // The task's webhooks are told of the cancel like of any other event.
    canceled.pushConfigs = await store.pushConfigs.list(id);
    await canceled.setStatus(TaskState.TASK_STATE_CANCELED);
    return canceled.task;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Graceful drain: refuse new work, give running tasks until `deadlineMs`, then stop what
   * is left (see {@link Recovery.abandon}: handed back to a durable queue, or FAILED).
   */
  async shutdown(deadlineMs: number): Promise<{ unfinished: number }> {
    this.core.stopAccepting();
    this.dispatcher.stop();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadlineMs);
    });
    const result = await Promise.race([this.dispatcher.idle().then(() => 'idle' as const), timedOut]);
    clearTimeout(timer);
    let unfinished = 0;
    if (result === 'timeout') {
      const left = [...this.core.runs.values()].filter((r) => !isTerminal(r.state));
      unfinished = await this.recovery.abandon(left);
    }
    await this.push.close();
    return { unfinished };
  }
}

function requireStreaming(agent: HostedAgent): void {
  if (!agent.card.capabilities?.streaming) {
    throw err('UNSUPPORTED_OPERATION', `Agent "${agent.name}" does not support streaming`);
  }
}

/**
 * Cancel is idempotent (A2A §3.3.1): a canceled task is returned as it is. Any other
 * finished task cannot be canceled (TASK_NOT_CANCELABLE).
 */
function alreadyCanceled(task: Task): boolean {
  const state = task.status?.state;
  if (state === TaskState.TASK_STATE_CANCELED) return true;
  if (isTerminal(state)) {
    throw err(
      'TASK_NOT_CANCELABLE',
      `Task ${task.id} is already ${stateLabel(state)} and cannot be canceled`,
      {
        taskId: task.id,
      },
    );
  }
  return false;
}

function countExecuting(runs: Iterable<TaskRun>): number {
  let n = 0;
  for (const run of runs) if (run.executing) n++;
  return n;
}
