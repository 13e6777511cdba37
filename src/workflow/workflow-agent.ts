/**
 * `workflow` agents: run a declared DAG of steps (see plan.ts for what runs when) as one
 * A2A task. Each step sends a message to an agent and waits for its task; independent
 * steps run in parallel. Every step's outcome is checkpointed, and the calls are durable
 * (durable-calls.ts), so when the replica running a workflow dies another resumes it:
 * finished steps are not run again and a child message under way is not sent again.
 *
 * The workflow streams a WORKING status per step start and end (metadata
 * `agentd.workflow.step`: id, target, attempt, phase), optionally relays its children's
 * artifacts, and completes with one artifact: the workflow's output. An `ask` step moves
 * it to INPUT_REQUIRED; the follow-up message resumes it with the answer as that step's
 * output. Each step is a span (its children's work joins it) and a metric.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { Message, StreamResponse } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { textMessage, textPart } from '../agents/parts.js';
import { isoNow } from '../engine/clock.js';
import { AgentdRequestContext, type RunHandle } from '../engine/hosted-agent.js';
import { SpanKind, Tracing } from '../observability/tracing.js';
import { contentOf, type ChildTarget } from './children.js';
import { describe } from '../engine/run-executor.js';
import type { DurableCalls } from './durable-calls.js';
import {
  retryDelayMs,
  type PlannedStep,
  type StepOutcome,
  type WorkflowPlan,
  type WorkflowScope,
} from './plan.js';

type StepScope = WorkflowScope;
type WorkflowStep = PlannedStep;

export interface WorkflowAgentOptions {
  /** The workflow's name (`workflow_type` in metrics). */
  readonly name: string;
  readonly plan: WorkflowPlan;
  /** Relay children's artifacts as this workflow's (ids prefixed with the step id). */
  readonly relayArtifacts: boolean;
}

export class WorkflowAgent implements AgentExecutor {
  constructor(private readonly options: WorkflowAgentOptions) {}

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    try {
      if (!(ctx instanceof AgentdRequestContext) || !ctx.runHandle.durable)
        throw new Error('workflow agents run only inside agentd');
      await new WorkflowExecution(this.options, ctx, ctx.runHandle, ctx.runHandle.durable, bus).run();
    } finally {
      bus.finished();
    }
  }

  /** The engine cancels the children a workflow waits for; steps stop on the run's signal. */
  async cancelTask(): Promise<void> {}
}

const INPUT_KEY = 'wf:input';
const stepKey = (id: string): string => `wf:step:${id}`;
const askKey = (id: string): string => `wf:ask:${id}`;

/** One execution of a workflow task (the first, or a re-run after a takeover or an answer). */
class WorkflowExecution {
  private readonly outcomes = new Map<string, StepOutcome>();
  private readonly running = new Map<string, Promise<void>>();
  private input: StepScope['input'] = { text: '' };
  private failure: { step: string; error: string } | undefined;

  constructor(
    private readonly options: WorkflowAgentOptions,
    private readonly ctx: AgentdRequestContext,
    private readonly handle: RunHandle,
    private readonly durable: DurableCalls,
    private readonly bus: ExecutionEventBus,
  ) {}

  async run(): Promise<void> {
    const { plan } = this.options;
    await this.restore();
    this.status(TaskState.TASK_STATE_WORKING, undefined);
    for (;;) {
      if (this.handle.signal.aborted) return;
      if (this.failure) {
        // The workflow has failed: what still runs is stopped, where it runs.
        await this.durable.cancelAll();
        await Promise.allSettled(this.running.values());
        return this.fail(this.failure);
      }
      const next = plan.next(this.outcomes, new Set(this.running.keys()), this.input);
      if (next.failure) {
        this.failure = next.failure;
        continue;
      }
      for (const { fallback } of next.fallbacks) this.launch(plan.step(fallback));
      for (const id of next.skip) await this.settle(id, { status: 'skipped', output: '' }, 0);
      if (next.skip.length > 0) continue;
      let asked = false;
      for (const id of next.start) {
        const step = plan.step(id);
        if (step.target.kind === 'ask') {
          // Ask once nothing else runs, so the workflow rests with every started step settled.
          if (this.running.size > 0) continue;
          if (await this.ask(step)) asked = true;
          break;
        }
        this.launch(step);
      }
      if (asked) return;
      if (next.done && this.running.size === 0) return this.complete();
      if (this.running.size === 0) {
        // An ask step answered just now settles without running: plan again.
        if (next.start.length > 0 || next.fallbacks.length > 0) continue;
        return this.fail({ step: '', error: 'the workflow cannot make progress (no step is ready)' });
      }
      await Promise.race(this.running.values());
    }
  }

  /** The workflow's input and every step outcome checkpointed by earlier executions. */
  private async restore(): Promise<void> {
    const saved = await this.checkpoint(INPUT_KEY);
    if (saved !== undefined) this.input = JSON.parse(saved) as StepScope['input'];
    else {
      this.input = inputOf(this.ctx.userMessage);
      await this.save(INPUT_KEY, this.input);
    }
    const { plan } = this.options;
    const ids = plan.order();
    const stored = await Promise.all(ids.map((id) => this.checkpoint(stepKey(id))));
    ids.forEach((id, i) => {
      const raw = stored[i];
      if (raw !== undefined) this.outcomes.set(id, JSON.parse(raw) as StepOutcome);
    });
  }

  private launch(step: WorkflowStep): void {
    const done = this.runStep(step)
      .catch((error: unknown) => {
        if (!this.handle.signal.aborted) this.failure ??= { step: step.id, error: describe(error) };
      })
      .finally(() => this.running.delete(step.id));
    this.running.set(step.id, done);
  }

  /** Runs a step with its retries; records and announces its outcome. */
  private async runStep(step: WorkflowStep): Promise<void> {
    const started = performance.now();
    const target = targetOf(step);
    const label = targetLabel(target);
    const text = this.options.plan.render(step.id, this.scope());
    const attempts = step.retry.attempts;
    let outcome: StepOutcome = { status: 'failed', output: '', error: 'not run' };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // Canceled during a backoff, or the workflow failed meanwhile: no further attempt.
      if (this.handle.signal.aborted) throw new Error('canceled');
      if (attempt > 1 && this.failure) break;
      this.stepEvent(step.id, label, attempt, 'started');
      const span = this.handle.tracing?.start(
        `workflow step ${step.id}`,
        SpanKind.INTERNAL,
        this.ctx.traceContext,
        {
          'agentd.workflow': this.options.name,
          'agentd.workflow.step': step.id,
          'agentd.workflow.target': label,
          'agentd.workflow.attempt': attempt,
        },
      );
      try {
        const child = await this.durable.call(`wf:${step.id}#${attempt}`, target, text, {
          timeoutMs: step.timeoutSeconds !== undefined ? step.timeoutSeconds * 1000 : undefined,
          transport: step.definition.transport,
          parent: span?.context ?? this.ctx.traceContext,
          step: step.id,
          onEvent: (event) => this.relay(step.id, event),
        });
        outcome =
          child.status === 'completed'
            ? {
                status: 'completed',
                output: child.text,
                ...(child.data !== undefined ? { data: child.data } : {}),
              }
            : { status: 'failed', output: child.text, error: child.error ?? `ended ${child.status}` };
        Tracing.end(span, outcome.status === 'completed' ? undefined : outcome.error);
      } catch (error) {
        Tracing.end(span, describe(error));
        if (this.handle.signal.aborted) throw error;
        outcome = { status: 'failed', output: '', error: describe(error) };
      }
      if (outcome.status === 'completed' || attempt === attempts || this.failure) break;
      this.stepEvent(step.id, label, attempt, 'retrying', outcome.error);
      await this.backoff(step, attempt);
    }
    await this.settle(step.id, outcome, (performance.now() - started) / 1000, label, attempts);
  }

  /** Checkpoints a step's outcome, announces it, and counts it. */
  private async settle(
    id: string,
    outcome: StepOutcome,
    seconds: number,
    label = '',
    attempt = 0,
  ): Promise<void> {
    await this.save(stepKey(id), outcome);
    this.outcomes.set(id, outcome);
    this.stepEvent(id, label, attempt, outcome.status, outcome.error);
    this.handle.observeStep?.(this.options.name, id, outcome.status, seconds);
  }

  /**
   * An `ask` step: answered by this execution's message when the workflow asked before
   * (true: settled, plan again... returns false), else the workflow asks now and rests (true).
   */
  private async ask(step: WorkflowStep): Promise<boolean> {
    const current = this.ctx.userMessage;
    const raw = await this.checkpoint(askKey(step.id));
    const asked = raw ? (JSON.parse(raw) as { messageId: string }) : undefined;
    if (asked && asked.messageId !== current.messageId) {
      const answer = inputOf(current);
      await this.settle(
        step.id,
        {
          status: 'completed',
          output: answer.text,
          ...(answer.data !== undefined ? { data: answer.data } : {}),
        },
        0,
        'user',
        1,
      );
      return false;
    }
    const prompt = this.options.plan.render(step.id, this.scope());
    await this.save(askKey(step.id), { messageId: current.messageId });
    this.stepEvent(step.id, 'user', 1, 'started');
    this.status(TaskState.TASK_STATE_INPUT_REQUIRED, prompt, { step: step.id });
    return true;
  }

  private complete(): void {
    const text = this.options.plan.output(this.scope());
    this.bus.publish({
      kind: 'artifactUpdate',
      data: {
        taskId: this.ctx.taskId,
        contextId: this.ctx.contextId,
        artifact: {
          artifactId: 'result',
          name: this.options.name,
          description: '',
          parts: [textPart(text)],
          metadata: undefined,
          extensions: [],
        },
        append: false,
        lastChunk: true,
        metadata: undefined,
      },
    });
    this.status(TaskState.TASK_STATE_COMPLETED, undefined);
  }

  private fail(failure: { step: string; error: string }): void {
    const text = failure.step ? `Step "${failure.step}" failed: ${failure.error}` : failure.error;
    this.status(TaskState.TASK_STATE_FAILED, text, failure.step ? { step: failure.step } : undefined);
  }

  private scope(): StepScope {
    return { input: this.input, steps: Object.fromEntries(this.outcomes) };
  }

  /** Waits before a retry: exponential from `backoffMs`, capped, with jitter; ends on cancel. */
  private backoff(step: WorkflowStep, attempt: number): Promise<void> {
    const ms = retryDelayMs(step.retry, attempt) * (0.5 + Math.random() / 2);
    const signal = this.handle.signal;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** A child's artifact, relayed as the workflow's own when configured. */
  private relay(stepId: string, event: StreamResponse): void {
    if (!this.options.relayArtifacts || event.payload?.$case !== 'artifactUpdate') return;
    const update = event.payload.value;
    if (!update.artifact) return;
    this.bus.publish({
      kind: 'artifactUpdate',
      data: {
        ...update,
        taskId: this.ctx.taskId,
        contextId: this.ctx.contextId,
        artifact: { ...update.artifact, artifactId: `${stepId}/${update.artifact.artifactId}` },
      },
    });
  }

  private stepEvent(id: string, target: string, attempt: number, phase: string, error?: string): void {
    const words =
      phase === 'started'
        ? `step ${id} started${target ? ` (${target}${attempt > 1 ? `, attempt ${attempt}` : ''})` : ''}`
        : `step ${id} ${phase}${error ? `: ${error}` : ''}`;
    this.status(TaskState.TASK_STATE_WORKING, words, {
      id,
      ...(target ? { target } : {}),
      ...(attempt > 0 ? { attempt } : {}),
      phase,
      ...(error ? { error } : {}),
    });
  }

  private status(state: TaskState, text: string | undefined, step?: Record<string, unknown>): void {
    this.bus.publish({
      kind: 'statusUpdate',
      data: {
        taskId: this.ctx.taskId,
        contextId: this.ctx.contextId,
        status: {
          state,
          message: text ? textMessage(Role.ROLE_AGENT, text, this.ctx) : undefined,
          timestamp: isoNow(),
        },
        metadata: step ? { 'agentd.workflow.step': step } : undefined,
      },
    });
  }

  private checkpoint(key: string): Promise<string | undefined> {
    const get = this.handle.getCheckpoint;
    if (!get) throw new Error('checkpoints are not available');
    return get.call(this.handle, key);
  }

  private async save(key: string, value: unknown): Promise<void> {
    const put = this.handle.putCheckpoint;
    if (!put) throw new Error('checkpoints are not available');
    await put.call(this.handle, key, JSON.stringify(value));
  }
}

function targetOf(step: WorkflowStep): ChildTarget {
  const t = step.target;
  if (t.kind === 'agent') return { agent: t.agent };
  if (t.kind === 'url') return { url: t.url };
  if (t.kind === 'capability') return { capability: t.capability };
  throw new Error(`step "${step.id}" asks the user; it has no agent`);
}

function targetLabel(target: ChildTarget): string {
  if ('agent' in target) return target.agent;
  if ('url' in target) return target.url;
  return `capability:${target.capability}`;
}

/** A message as a template's `input`: its text, and its first data part. */
function inputOf(message: Message): StepScope['input'] {
  return contentOf(message.parts);
}
