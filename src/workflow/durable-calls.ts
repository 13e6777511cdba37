/**
 * Checkpointed calls from one task to other agents (workflow steps, `requestContext.call`).
 * A call's outcome is checkpointed in the store under its key; the message it sends has an
 * id derived from the parent task and the key. When the replica running the parent dies and
 * another re-runs it, a finished call returns its checkpoint, and a call that was under way
 * sends the same message again, which the child's message-id idempotency answers with the
 * task it already produced (re-attaching to it wherever it runs) instead of running it
 * twice. While it waits, the parent lends its worker slot to others (see WorkerSlots).
 */
import type { Message, StreamResponse } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TransportName } from '../client/connect.js';
import { err, isAgentdError } from '../errors.js';
import {
  MAX_CALL_DEPTH,
  PARENT_KEY,
  childMessage,
  childMessageId,
  type ChildInvoker,
  type ChildOutcome,
  type ChildTarget,
  type ResolvedTarget,
} from './children.js';

/** What a durable call needs of the task that makes it (a TaskRun). */
export interface DurableHost {
  readonly id: string;
  readonly tenant: string;
  readonly signal: AbortSignal;
  readonly traceContext: Context | undefined;
  readonly log: Logger;
  getCheckpoint(key: string): Promise<string | undefined>;
  putCheckpoint(key: string, json: string): Promise<void>;
  /** Runs `wait` with the task's worker slot lent out (see WorkerSlot.lendWhile). */
  lendWhile<T>(wait: () => Promise<T>): Promise<T>;
}

export interface DurableCallOptions {
  readonly timeoutMs?: number | undefined;
  readonly transport?: TransportName | undefined;
  /** Every event the child streams, live (not replayed when a checkpoint answers). */
  readonly onEvent?: ((event: StreamResponse) => void) | undefined;
  /** The trace context the child joins (a step's span); the task's own by default. */
  readonly parent?: Context | undefined;
  /** Named in the child message's `agentd.parent` metadata (the step id); the key by default. */
  readonly step?: string | undefined;
}

export class DurableCalls {
  /** Children under way: task id → where it runs (what a cancel cascades to). */
  private readonly inFlight = new Map<string, ResolvedTarget>();

  constructor(
    private readonly host: DurableHost,
    private readonly invoker: ChildInvoker,
    /** The parent task's caller: the children's caller. */
    private readonly ctx: ServerCallContext,
    /** How deep the parent is in a chain of calls (see MAX_CALL_DEPTH). */
    private readonly depth = 0,
  ) {}

  /** Children of this task under way now. */
  get running(): number {
    return this.inFlight.size;
  }

  /**
   * Sends `message` to `target` once per task and `key`, and resolves with how the child
   * ended. Errors reaching the child (unreachable, breaker open, timeout) reject; a child
   * that ran and failed resolves with its failed outcome (and is checkpointed, like a success).
   */
  async call(
    key: string,
    target: ChildTarget,
    message: string | Message,
    options: DurableCallOptions = {},
  ): Promise<ChildOutcome> {
    const { host } = this;
    const checkpoint = `call:${key}`;
    const saved = await host.getCheckpoint(checkpoint);
    if (saved !== undefined) return JSON.parse(saved) as ChildOutcome;
    if (this.depth + 1 > MAX_CALL_DEPTH)
      throw err(
        'CALL_DEPTH_EXCEEDED',
        `Not sending "${options.step ?? key}": this task is already ${this.depth} calls deep (at most ${MAX_CALL_DEPTH}; a loop between workflows or routers?)`,
      );
    const resolved = await this.resolve(key, target);
    const messageId = childMessageId(host.id, key);
    const parent = { taskId: host.id, step: options.step ?? key, depth: this.depth + 1 };
    const sent: Message =
      typeof message === 'string'
        ? childMessage(messageId, message, parent)
        : {
            ...message,
            messageId,
            taskId: '',
            contextId: '',
            metadata: { ...message.metadata, [PARENT_KEY]: parent },
          };
    let childId: string | undefined;
    let outcome: ChildOutcome;
    try {
      outcome = await host.lendWhile(() =>
        this.invoker.call(resolved, sent, host.tenant, this.ctx, {
          signal: host.signal,
          parent: options.parent ?? host.traceContext,
          timeoutMs: options.timeoutMs,
          transport: options.transport,
          onEvent: options.onEvent,
          onTask: (id) => {
            childId = id;
            this.inFlight.set(id, resolved);
          },
        }),
      );
    } catch (error) {
      // A child that timed out is stopped where it runs: nobody waits for it any more.
      if (childId && isAgentdError(error, 'PEER_TIMEOUT')) await this.cancelOne(childId, resolved);
      throw error;
    } finally {
      if (childId) this.inFlight.delete(childId);
    }
    await host.putCheckpoint(checkpoint, JSON.stringify(outcome));
    return outcome;
  }

  /** Cancels every child under way (the parent was canceled). */
  async cancelAll(): Promise<void> {
    const children = [...this.inFlight];
    this.inFlight.clear();
    await Promise.all(children.map(([id, target]) => this.cancelOne(id, target)));
  }

  private async cancelOne(taskId: string, target: ResolvedTarget): Promise<void> {
    try {
      await this.invoker.cancel(target, taskId, this.host.tenant, this.ctx);
    } catch (error) {
      // Already finished (not cancelable) is fine; anything else is worth a line.
      if (!isAgentdError(error, 'TASK_NOT_CANCELABLE'))
        this.host.log.warn({ err: error, child_task_id: taskId }, 'could not cancel a child task');
    }
  }

  /**
   * Where the call goes. A capability is resolved once per call and the choice
   * checkpointed, so a re-run sends to the same agent (whose idempotency then recognises
   * the message) rather than to whichever agent discovery picks next.
   */
  private async resolve(key: string, target: ChildTarget): Promise<ResolvedTarget> {
    if (!('capability' in target)) return this.invoker.resolve(target);
    const checkpoint = `call:${key}:target`;
    const saved = await this.host.getCheckpoint(checkpoint);
    if (saved !== undefined) return JSON.parse(saved) as ResolvedTarget;
    const resolved = await this.invoker.resolve(target);
    await this.host.putCheckpoint(checkpoint, JSON.stringify(resolved));
    return resolved;
  }
}
