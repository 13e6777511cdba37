/**
 * The pure core of workflow agents: what runs next, given what has happened so far.
 *
 * `WorkflowPlan.from(definition)` validates the definition (`validate.ts`) and compiles its
 * templates and conditions. The runtime then loops: call `next`, start what it says, record each
 * step's outcome when the step ends (after its last retry), call `next` again. `next` holds no
 * state; it is a function of the recorded outcomes, the running steps and the input, so a
 * runtime that resumes a workflow after a crash calls it with what it had recorded and carries on.
 *
 * Semantics of `next(outcomes, running, input)`:
 *
 * - **Normal and fallback steps.** A step named in some `onError: { fallback }` is a fallback
 *   step: it never starts on its own. Every other step is a normal step.
 * - **Settled.** A normal step is settled when it has a recorded outcome, except one that
 *   failed and has a fallback: that one settles when its fallback has an outcome, and the
 *   fallback's outcome then stands for it (dependents, conditions and templates see the
 *   fallback's output, data, status and error under the failed step's id).
 * - **Failure.** When a settled step is failed and the `onError` that decides is `fail` (the
 *   step's own, or its fallback's when the fallback ran), the workflow has failed: `failure`
 *   names that step (the fallback, if it was the fallback that failed) and its error, `done`
 *   is true, nothing more starts, and the runtime should cancel whatever is still running.
 *   With several such steps, the first in definition order is named.
 * - **Ready.** A normal step without an outcome that is not running is ready when every need
 *   has settled. Its condition (`if`) is then evaluated against the settled outcomes: true (or
 *   no condition) puts it in `start`, false in `skip`. The runtime records skipped steps as
 *   `{ status: 'skipped', output: '' }`; `next` already counts them as settled, so their
 *   dependents may be in the same answer's `start` or `skip`.
 * - **Failed and skipped needs do not stop dependents.** A need that failed with
 *   `onError: continue` or was skipped lets its dependents run; its output is "" and its status
 *   says what happened, so a dependent that should not run then says so in its `if`
 *   (`if: steps.a.status == "completed"`).
 * - **Fallbacks.** A normal step recorded as failed whose fallback has no outcome and is not
 *   running is listed in `fallbacks`; the runtime starts the fallback (its needs have settled:
 *   they are among the failed step's needs).
 * - **Done.** `done` is true when every normal step has settled (or on failure). Fallbacks that
 *   were not needed never run and have no outcome.
 *
 * `start` and `skip` are in definition order. Steps in `running` are never returned again, so
 * calling `next` twice without recording anything returns the same steps minus those started.
 */
import type { WorkflowDefinition } from './definition.js';
import type { StepId, StepOutcome, WorkflowScope } from './scope.js';
import { compileWorkflow, type PlannedStep } from './validate.js';

// The plan is the module the runtime imports; these come with it.
export { WorkflowDefinitionError, type PlannedStep, type StepTarget } from './validate.js';
export type { StepId, StepOutcome, StepStatus, WorkflowScope } from './scope.js';

/** What the runtime should do now (see the module comment for the exact rules). */
export interface NextSteps {
  /** Normal steps to start now, in definition order. */
  readonly start: StepId[];
  /** Normal steps whose condition is false: record them as skipped. */
  readonly skip: StepId[];
  /** Failed steps whose fallback should start now. */
  readonly fallbacks: Array<{ readonly failed: StepId; readonly fallback: StepId }>;
  /** Nothing more will start: every normal step has settled, or the workflow failed. */
  readonly done: boolean;
  /** Set when the workflow has failed, naming the step whose failure ended it. */
  readonly failure?: { readonly step: StepId; readonly error: string };
}

const SKIPPED: StepOutcome = { status: 'skipped', output: '' };

/** A validated workflow and its scheduling rules. Immutable; one plan serves every run. */
export class WorkflowPlan {
  private readonly byId: ReadonlyMap<StepId, PlannedStep>;
  private readonly normal: readonly PlannedStep[];
  /** Normal steps in topological order. */
  private readonly normalOrder: readonly PlannedStep[];
  private readonly topoOrder: readonly StepId[];
  private readonly outputTemplate: ReturnType<typeof compileWorkflow>['output'];
  /** Normal steps no normal step needs, in definition order: their outputs make the default result. */
  private readonly sinks: readonly StepId[];

  /** Every step, in definition order. */
  readonly steps: readonly PlannedStep[];

  private constructor(compiled: ReturnType<typeof compileWorkflow>) {
    this.steps = compiled.steps;
    this.byId = new Map(compiled.steps.map((s) => [s.id, s]));
    this.normal = compiled.steps.filter((s) => s.fallbackFor === undefined);
    this.topoOrder = compiled.order;
    this.normalOrder = compiled.order
      .map((id) => this.byId.get(id)!)
      .filter((s) => s.fallbackFor === undefined);
    this.outputTemplate = compiled.output;
    const needed = new Set(this.normal.flatMap((s) => s.needs));
    this.sinks = this.normal.filter((s) => !needed.has(s.id)).map((s) => s.id);
  }

  /** Validates and compiles a definition; throws `WorkflowDefinitionError` naming the bad field. */
  static from(definition: Pick<WorkflowDefinition, 'steps' | 'output'>): WorkflowPlan {
    return new WorkflowPlan(compileWorkflow(definition));
  }

  /** The step with this id; throws for an id the workflow does not have (a programming error). */
  step(id: StepId): PlannedStep {
    const step = this.byId.get(id);
    if (!step) throw new Error(`workflow has no step "${id}"`);
    return step;
  }

  /** Every step id, each after its needs; ties keep definition order. */
  order(): readonly StepId[] {
    return this.topoOrder;
  }

  /** What to do now, given the recorded outcomes and the running steps (see the module comment). */
  next(
    outcomes: ReadonlyMap<StepId, StepOutcome>,
    running: ReadonlySet<StepId>,
    input: WorkflowScope['input'],
  ): NextSteps {
    const settled = new Map<StepId, StepOutcome>();
    let failure: NextSteps['failure'];
    for (const s of this.normal) {
      const resolved = this.settle(s, outcomes);
      if (!resolved) continue;
      settled.set(s.id, resolved.outcome);
      if (!failure && resolved.outcome.status === 'failed' && resolved.decidedBy.onError === 'fail')
        failure = { step: resolved.decidedBy.id, error: resolved.outcome.error ?? 'failed' };
    }
    if (failure) return { start: [], skip: [], fallbacks: [], done: true, failure };

    const fallbacks: Array<{ failed: StepId; fallback: StepId }> = [];
    for (const s of this.normal) {
      if (s.fallback === undefined || outcomes.get(s.id)?.status !== 'failed') continue;
      if (!outcomes.has(s.fallback) && !running.has(s.fallback))
        fallbacks.push({ failed: s.id, fallback: s.fallback });
    }

    const start: PlannedStep[] = [];
    const skip: PlannedStep[] = [];
    for (const s of this.normalOrder) {
      if (outcomes.has(s.id) || running.has(s.id) || !s.needs.every((n) => settled.has(n))) continue;
      const scope = { input, steps: Object.fromEntries(settled) };
      if (!s.condition || s.condition.evaluate(scope)) {
        start.push(s);
      } else {
        skip.push(s);
        settled.set(s.id, SKIPPED);
      }
    }
    const ids = (list: PlannedStep[]): StepId[] => list.sort((a, b) => a.index - b.index).map((s) => s.id);
    return {
      start: ids(start),
      skip: ids(skip),
      fallbacks,
      done: this.normal.every((s) => settled.has(s.id)),
    };
  }

  /**
   * The outcomes as dependents see them: a failed step whose fallback has an outcome is
   * replaced by that outcome, and a failed step's output is "". Fallback steps keep their own.
   */
  resolve(outcomes: ReadonlyMap<StepId, StepOutcome>): Record<StepId, StepOutcome> {
    const resolved: Record<StepId, StepOutcome> = {};
    for (const s of this.steps) {
      const own = outcomes.get(s.id);
      if (!own) continue;
      resolved[s.id] =
        s.fallbackFor === undefined ? (this.settle(s, outcomes)?.outcome ?? blank(own)) : blank(own);
    }
    return resolved;
  }

  /**
   * The message text for a step (for an `ask` step, the question). `scope.steps` holds the
   * recorded outcomes; fallbacks are applied as in {@link resolve}.
   */
  render(stepId: StepId, scope: WorkflowScope): string {
    return this.step(stepId).message.render(this.resolvedScope(scope));
  }

  /**
   * The workflow's result text: its `output` template, or else the outputs of the steps no
   * other step needs, in definition order, the empty ones left out, joined with a blank line.
   */
  output(scope: WorkflowScope): string {
    const resolved = this.resolvedScope(scope);
    if (this.outputTemplate) return this.outputTemplate.render(resolved);
    return this.sinks
      .map((id) => (Object.hasOwn(resolved.steps, id) ? resolved.steps[id]!.output : ''))
      .filter((text) => text !== '')
      .join('\n\n');
  }

  private resolvedScope(scope: WorkflowScope): WorkflowScope {
    return { input: scope.input, steps: this.resolve(new Map(Object.entries(scope.steps))) };
  }

  /**
   * A normal step's effective outcome, and the step whose `onError` applies to it; `undefined`
   * while it has not settled (no outcome, or failed with its fallback still to finish).
   */
  private settle(
    s: PlannedStep,
    outcomes: ReadonlyMap<StepId, StepOutcome>,
  ): { outcome: StepOutcome; decidedBy: PlannedStep } | undefined {
    const own = outcomes.get(s.id);
    if (!own) return undefined;
    if (own.status !== 'failed' || s.fallback === undefined) return { outcome: blank(own), decidedBy: s };
    const fallback = outcomes.get(s.fallback);
    return fallback ? { outcome: blank(fallback), decidedBy: this.step(s.fallback) } : undefined;
  }
}

/** Failed steps have no output, whatever the runtime recorded. */
function blank(outcome: StepOutcome): StepOutcome {
  return outcome.status === 'failed' && outcome.output !== '' ? { ...outcome, output: '' } : outcome;
}

/**
 * How long to wait after a step's `failures`-th failed try before the next one:
 * `backoffMs`, doubling each time, never more than `maxBackoffMs`.
 */
export function retryDelayMs(retry: PlannedStep['retry'], failures: number): number {
  return Math.min(retry.backoffMs * 2 ** Math.max(0, failures - 1), retry.maxBackoffMs);
}
