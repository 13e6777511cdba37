/**
 * How a workflow reaches the agents its steps name: an agent hosted in this process (the
 * engine, in process: no HTTP, and the task runs on whichever replica has a slot), an
 * agent registered by another server (over A2A, at its card URL), an agent found by
 * capability, or any A2A agent at a URL. Every child is followed until its task rests,
 * and can be canceled where it runs.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { Message, SendMessageRequest, StreamResponse, Task } from '@a2a-js/sdk';
import { ServerCallContext } from '@a2a-js/sdk/server';
import type { Context } from '@opentelemetry/api';
import { createHash } from 'node:crypto';
import type { TransportName } from '../client/connect.js';
import { err } from '../errors.js';
import { TRACE_CONTEXT_STATE_KEY } from '../engine/call-context.js';
import { applyStreamEvent } from '../engine/reducer.js';
import { isInterrupted, isTerminal, stateLabel } from '../engine/task-state.js';
import type { HostedAgent } from '../engine/hosted-agent.js';
import type { StreamRecord } from '../engine/task-engine.js';
import { textPart } from '../agents/parts.js';
import type { RegisteredAgent } from '../store/ports.js';

/** Whom a step or `call()` sends its message to. */
export type ChildTarget =
  { readonly agent: string } | { readonly url: string } | { readonly capability: string };

/** A target resolved for one call: in this process (by agent name), or over A2A. */
export type ResolvedTarget =
  | { readonly local: true; readonly agent: string }
  | { readonly local: false; readonly url: string; readonly agent: string };

/** How a child ended, as far as its parent cares (what is checkpointed). */
export interface ChildOutcome {
  /** `completed` for a completed task or a direct reply; the child's state label otherwise. */
  readonly status: string;
  /** The text of its artifacts (else of its final status message, else of its reply). */
  readonly text: string;
  /** The first data part of its artifacts or reply, when it has one. */
  readonly data?: unknown;
  /** Why it did not complete (its status message), when it did not. */
  readonly error?: string;
  /** The child task, when the agent answered with one. */
  readonly taskId?: string;
  /** The agent that answered (its card name, or the name it is hosted under). */
  readonly agent: string;
}

export interface ChildCallOptions {
  /** Stops following the child (the parent is canceled or stops here); the child is not canceled by this. */
  readonly signal: AbortSignal;
  /** The trace context the child's work joins. */
  readonly parent: Context | undefined;
  readonly timeoutMs?: number | undefined;
  readonly transport?: TransportName | undefined;
  /** Every event the child streams (artifacts to relay, progress). */
  readonly onEvent?: ((event: StreamResponse) => void) | undefined;
  /** Learns the child's task id as soon as it is known (so a cancel can reach it). */
  readonly onTask?: ((taskId: string) => void) | undefined;
}

/** Hosted agents of this process, as the engine serves them in process. */
export interface LocalAgents {
  find(name: string): HostedAgent | undefined;
  streamMessage(
    agent: HostedAgent,
    params: SendMessageRequest,
    ctx: ServerCallContext,
    signal?: AbortSignal,
  ): AsyncIterable<StreamRecord>;
  cancel(agent: HostedAgent, taskId: string, tenant: string, ctx: ServerCallContext): Promise<void>;
}

/** Agents over A2A: a streamed send followed to rest, and cancel (with the caller's resilience). */
export interface RemoteAgents {
  stream(
    url: string,
    request: SendMessageRequest,
    options: {
      parent?: Context | undefined;
      signal?: AbortSignal | undefined;
      transport?: TransportName | undefined;
      timeoutMs?: number | undefined;
    },
  ): AsyncIterable<StreamResponse>;
  cancelTask(
    url: string,
    taskId: string,
    options: { parent?: Context | undefined; transport?: TransportName | undefined },
  ): Promise<unknown>;
}

/** Resolves `agent:` names not hosted here and `capability:` targets through discovery. */
export interface PeerResolver {
  /** An agent with this skill id or tag (round-robin or least loaded, skipping open breakers). */
  byCapability(capability: string): Promise<{ readonly name: string; readonly cardUrl: string }>;
  /** The card URL of an agent another server registered under this name, if any. */
  byName(name: string): Promise<string | undefined>;
  /** Every registered agent (all servers on this store). */
  list(): Promise<RegisteredAgent[]>;
}

/** Message metadata naming the task (and step) that sent a child message, and how deep the chain is. */
export const PARENT_KEY = 'agentd.parent';

/**
 * How many durable calls deep a chain of agents may go (a workflow calling a router calling a
 * workflow, ...): beyond it the call fails with CALL_DEPTH_EXCEEDED, so a loop between agents
 * ends instead of filling the replicas with tasks.
 */
export const MAX_CALL_DEPTH = 8;

/** How deep the message that started a run is in a chain of calls (0: sent by a client). */
export function callDepthOf(message: Message | undefined): number {
  const parent = message?.metadata?.[PARENT_KEY] as { depth?: unknown } | undefined;
  const depth = parent?.depth;
  return typeof depth === 'number' && Number.isInteger(depth) && depth > 0 ? Math.min(depth, 1000) : 0;
}

/**
 * A deterministic message id for a child message: the same parent task and key always give
 * the same id, so a re-run after a takeover re-sends the same message and the child's
 * message-id idempotency answers with the task it produced instead of running it again.
 */
export function childMessageId(parentTaskId: string, key: string): string {
  const h = createHash('sha256').update(parentTaskId).update('\0').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A child message: one text part (and a data part when given), and where it comes from. */
export function childMessage(
  messageId: string,
  text: string,
  parent: { readonly taskId: string; readonly step: string; readonly depth: number },
): Message {
  return {
    messageId,
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [textPart(text)],
    metadata: { [PARENT_KEY]: { taskId: parent.taskId, step: parent.step, depth: parent.depth } },
    extensions: [],
    referenceTaskIds: [],
  };
}

export class ChildInvoker {
  constructor(
    private readonly local: LocalAgents,
    private readonly remote: RemoteAgents | undefined,
    private readonly peers: () => PeerResolver | undefined,
  ) {}

  /** Every agent registered by the servers on this store (none without discovery). */
  directory(): Promise<RegisteredAgent[]> {
    return this.peers()?.list() ?? Promise.resolve([]);
  }

  /** Where `target` is reached now (capabilities are resolved afresh on every call). */
  async resolve(target: ChildTarget): Promise<ResolvedTarget> {
    if ('url' in target) return { local: false, url: target.url, agent: target.url };
    if ('agent' in target) {
      if (this.local.find(target.agent)) return { local: true, agent: target.agent };
      const url = await this.peers()?.byName(target.agent);
      if (!url)
        throw err('AGENT_NOT_FOUND', `No agent named "${target.agent}" is hosted here or registered`, {
          agent: target.agent,
        });
      return { local: false, url, agent: target.agent };
    }
    const peers = this.peers();
    if (!peers)
      throw err('NO_AGENT_FOR_CAPABILITY', `No agent has the capability "${target.capability}"`, {
        capability: target.capability,
      });
    const found = await peers.byCapability(target.capability);
    return this.local.find(found.name)
      ? { local: true, agent: found.name }
      : { local: false, url: found.cardUrl, agent: found.name };
  }

  /**
   * Sends `message` to the resolved target and follows the child until its task rests;
   * the parent's caller (`ctx`) is the child's caller. A message sent before (same id)
   * re-attaches to its task.
   */
  async call(
    target: ResolvedTarget,
    message: Message,
    tenant: string,
    ctx: ServerCallContext,
    options: ChildCallOptions,
  ): Promise<ChildOutcome> {
    // A parent canceled (or handed off) before this call started sends nothing.
    if (options.signal.aborted) throw options.signal.reason ?? new Error('canceled');
    const request: SendMessageRequest = { tenant, message, configuration: undefined, metadata: undefined };
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    options.signal.addEventListener('abort', stop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, options.timeoutMs);
    }
    let task: Task | undefined;
    let reply: Message | undefined;
    const seen = (event: StreamResponse): void => {
      const payload = event.payload;
      if (payload?.$case === 'message') reply = payload.value;
      else if (payload?.$case === 'task') {
        if (!task) options.onTask?.(payload.value.id);
        task = payload.value;
      } else if (task) task = applyStreamEvent(task, event);
      options.onEvent?.(event);
    };
    try {
      if (target.local) {
        const agent = this.local.find(target.agent);
        if (!agent) throw err('AGENT_NOT_FOUND', `No agent named "${target.agent}" is hosted here`);
        const child = childContext(ctx, options.parent);
        for await (const record of this.local.streamMessage(agent, request, child, controller.signal))
          seen(record.event);
      } else {
        if (!this.remote) throw err('PEER_UNAVAILABLE', 'Outbound A2A calls are not set up on this server');
        for await (const event of this.remote.stream(target.url, request, {
          parent: options.parent,
          signal: controller.signal,
          transport: options.transport,
        }))
          seen(event);
      }
    } catch (error) {
      if (timedOut) throw timeoutError(target, options.timeoutMs ?? 0);
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', stop);
    }
    if (timedOut) throw timeoutError(target, options.timeoutMs ?? 0);
    if (options.signal.aborted) throw options.signal.reason ?? new Error('canceled');
    return outcomeOf(target.agent, task, reply);
  }

  /** Cancels a child task where it runs (any replica, or the remote agent). */
  async cancel(
    target: ResolvedTarget,
    taskId: string,
    tenant: string,
    ctx: ServerCallContext,
  ): Promise<void> {
    if (target.local) {
      const agent = this.local.find(target.agent);
      if (agent) await this.local.cancel(agent, taskId, tenant, ctx);
      return;
    }
    await this.remote?.cancelTask(target.url, taskId, {});
  }
}

function timeoutError(target: ResolvedTarget, ms: number): Error {
  return err('PEER_TIMEOUT', `Agent "${target.agent}" did not finish within ${ms / 1000} s`, {
    agent: target.agent,
  });
}

/** The child's call context: the parent's caller, and the step's trace context. */
function childContext(ctx: ServerCallContext, parent: Context | undefined): ServerCallContext {
  const state = new Map<string, unknown>();
  for (const [k, v] of ctx.state) if (k.startsWith('agentd.principal')) state.set(k, v);
  if (parent) state.set(TRACE_CONTEXT_STATE_KEY, parent);
  return new ServerCallContext({
    requestedExtensions: ctx.requestedExtensions,
    ...(ctx.user ? { user: ctx.user } : {}),
    state,
  });
}

/** What a child produced: its text and data, and whether it completed. */
export function outcomeOf(agent: string, task: Task | undefined, reply: Message | undefined): ChildOutcome {
  if (reply && !task) {
    const { text, data } = contentOf(reply.parts);
    return { status: 'completed', text, ...(data !== undefined ? { data } : {}), agent };
  }
  if (!task) return { status: 'failed', text: '', error: `Agent "${agent}" answered with nothing`, agent };
  const state = task.status?.state;
  const artifacts = contentOf(task.artifacts.flatMap((a) => a.parts));
  const status = contentOf(task.status?.message?.parts ?? []);
  const text = artifacts.text || status.text;
  const data = artifacts.data ?? status.data;
  if (state === TaskState.TASK_STATE_COMPLETED)
    return { status: 'completed', text, ...(data !== undefined ? { data } : {}), taskId: task.id, agent };
  const label = stateLabel(state);
  if (!isTerminal(state) && !isInterrupted(state))
    // Not an outcome (the other side closed the stream, e.g. shutting down): a re-run sends
    // the same message again and re-attaches, so nothing is recorded for it.
    throw err(
      'PEER_UNAVAILABLE',
      `Agent "${agent}" stopped streaming before its task ${task.id} finished (${label})`,
      { agent },
    );
  const why = status.text || `Agent "${agent}" ended its task ${label}`;
  return { status: label, text, error: why, taskId: task.id, agent };
}

/** The text parts joined with newlines, and the first data part, of `parts`. */
export function contentOf(parts: readonly Message['parts'][number][]): { text: string; data?: unknown } {
  const texts: string[] = [];
  let data: unknown;
  for (const p of parts) {
    if (p.content?.$case === 'text') texts.push(p.content.value);
    else if (p.content?.$case === 'data' && data === undefined) data = p.content.value;
  }
  return { text: texts.join('\n'), ...(data !== undefined ? { data } : {}) };
}
