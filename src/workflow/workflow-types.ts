/**
 * What the workflow runtime needs of a planned workflow (plan.ts provides it): the steps,
 * what runs next given the outcomes so far, and the templates rendered against them.
 */

/** How a step settled (what templates see as `steps.<id>`; checkpointed per step). */
export interface StepOutcome {
  readonly status: 'completed' | 'failed' | 'skipped';
  readonly output: string;
  readonly data?: unknown;
  readonly error?: string;
}

/** What templates and conditions are evaluated against. */
export interface StepScope {
  readonly input: { readonly text: string; readonly data?: unknown };
  readonly steps: Readonly<Record<string, StepOutcome>>;
}

/** One step as the runtime uses it. */
export interface WorkflowStep {
  readonly id: string;
  readonly agent?: string | undefined;
  readonly url?: string | undefined;
  readonly capability?: string | undefined;
  readonly ask?: string | undefined;
  readonly timeoutSeconds?: number | undefined;
  readonly retry: { readonly attempts: number; readonly backoffMs: number; readonly maxBackoffMs: number };
}

export interface NextSteps {
  /** Steps to start now. */
  readonly start: readonly string[];
  /** Steps whose condition is false: settle them as skipped. */
  readonly skip: readonly string[];
  /** Every step has settled (or will not run): the workflow completes. */
  readonly done: boolean;
  /** The workflow fails (a step failed whose onError is `fail`). */
  readonly failure?: { readonly step: string; readonly error: string } | undefined;
}

export interface WorkflowPlanApi {
  step(id: string): WorkflowStep;
  /** Every step id, in a topological order. */
  order(): readonly string[];
  next(outcomes: ReadonlyMap<string, StepOutcome>, running: ReadonlySet<string>): NextSteps;
  /** The step's message (or an `ask` step's prompt). */
  render(id: string, scope: StepScope): string;
  /** The workflow's final output. */
  output(scope: StepScope): string;
}
