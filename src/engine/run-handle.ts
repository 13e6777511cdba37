/**
 * What an agent's request context reaches of its task's run (the `RunHandle`): the signal,
 * logger and attempt, `step()` checkpoints, outbound calls, business metrics, and the
 * durable primitives workflows are built on (task-wide checkpoints, lending the worker slot
 * while waiting, discovery). Kept apart from {@link TaskRun}, which is the engine's side of
 * the run (applying and writing events).
 */
import type { Message, Task, TaskState } from '@a2a-js/sdk';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TransportName } from '../client/connect.js';
import type { Tracing } from '../observability/tracing.js';
import type { RegisteredAgent } from '../store/ports.js';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { callDepthOf } from '../workflow/children.js';
import { DurableCalls, type DurableHost } from '../workflow/durable-calls.js';
import { NO_METRICS, type BusinessMetricsApi, type RunHandle } from './hosted-agent.js';
import type { TaskRun } from './task-run.js';

export class TaskRunHandle implements RunHandle, DurableHost {
  constructor(
    private readonly run: TaskRun,
    /** The caller of the run: the caller of its children. */
    private readonly ctx: ServerCallContext,
  ) {}

  /**
   * The run's checkpointed calls to other agents, made on first use (most agents never call
   * one) and kept on the run, where a cancel finds them.
   */
  get durable(): DurableCalls | undefined {
    const invoker = this.run.deps.children;
    if (!invoker) return undefined;
    this.run.durable ??= new DurableCalls(
      this,
      invoker,
      this.ctx,
      callDepthOf(this.run.task.history[0] ?? this.run.task.history[this.run.task.history.length - 1]),
    );
    return this.run.durable;
  }

  get id(): string {
    return this.run.id;
  }

  get tenant(): string {
    return this.run.tenant;
  }

  get signal(): AbortSignal {
    return this.run.signal;
  }

  get log(): Logger {
    return this.run.log;
  }

  get attempt(): number {
    return this.run.attempt;
  }

  get traceContext(): Context | undefined {
    return this.run.traceContext;
  }

  /** Business metrics for the agent (a no-op when monitoring is off). */
  get metrics(): BusinessMetricsApi {
    return this.run.deps.business ?? NO_METRICS;
  }

  get tracing(): Tracing | undefined {
    return this.run.deps.tracing;
  }

  /**
   * Runs `fn` once per task and message: its result is checkpointed under `key`, and a
   * re-run of the task (a takeover after a crash) returns the checkpoint without calling
   * `fn` again. Results must be JSON-serialisable.
   */
  async step<T>(key: string, fn: () => T | Promise<T>): Promise<T> {
    const saved = await this.getCheckpoint(key);
    if (saved !== undefined) return (JSON.parse(saved) as { v?: T }).v as T;
    const value = await fn();
    await this.putCheckpoint(key, JSON.stringify({ v: value }));
    return value;
  }

  /** A checkpoint of this task (task-wide keys; `step()` keys are per message). */
  getCheckpoint(key: string): Promise<string | undefined> {
    return this.run.deps.store.checkpoints.get(this.run.id, key);
  }

  putCheckpoint(key: string, json: string): Promise<void> {
    return this.run.deps.store.checkpoints.put(this.run.id, key, json);
  }

  setStatus(state: TaskState, text?: string): Promise<void> {
    return this.run.setStatus(state, text);
  }

  /** Runs `wait` with the run's worker slot lent to others (see WorkerSlot.lendWhile). */
  lendWhile<T>(wait: () => Promise<T>): Promise<T> {
    return this.run.slot ? this.run.slot.lendWhile(wait) : wait();
  }

  observeStep(workflow: string, step: string, status: string, seconds: number): void {
    this.run.deps.observer?.workflowStep?.(workflow, step, status, seconds);
  }

  observeRoute(router: string, target: string, reason: string): void {
    this.run.deps.observer?.routed?.(router, target, reason);
  }

  directory(): Promise<RegisteredAgent[]> {
    return this.run.deps.children?.directory() ?? Promise.resolve([]);
  }

  /** Sends a message to another A2A agent, traced as part of this task (see AgentdRequestContext). */
  callAgent(
    agentUrl: string,
    message: Message | string,
    options: { transport?: TransportName; timeoutMs?: number } = {},
  ): Promise<Message | Task> {
    const caller = this.run.deps.caller;
    if (!caller) throw new Error('outbound A2A calls are not set up on this server');
    return caller.send(agentUrl, message, {
      parent: this.run.traceContext,
      signal: this.run.signal,
      transport: options.transport,
      timeoutMs: options.timeoutMs,
    });
  }
}
