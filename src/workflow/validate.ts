/**
 * Checks a workflow definition as a whole and compiles its steps: targets, needs, fallbacks,
 * cycles, templates and conditions. The first problem found is thrown as a
 * {@link WorkflowDefinitionError} whose `path` names the field (`['steps', 1, 'needs', 0]`), so
 * the config loader reports it like any other invalid field.
 *
 * Rules (the user-facing version is in docs/agents.md, "Workflow agents"):
 *
 * - step ids are unique;
 * - a step has exactly one target: `agent`, `url`, `capability` or `ask`; an `ask` step has no
 *   `input` (its text is the question) and is not retried;
 * - every need names another step of the workflow, once, and not a fallback step;
 * - needs form no cycle;
 * - `onError: { fallback: x }` names another step; a step named as a fallback is the fallback of
 *   that one step only, runs only in its place, and has no `if` and no fallback of its own; its
 *   needs (if any) must be among the failing step's (direct or indirect) needs, which have all
 *   settled by the time it runs;
 * - templates and conditions parse, and read only steps among the step's needs, direct or
 *   indirect (a fallback may also read the failing step and that step's needs); the workflow's
 *   `output` may read any step.
 */
import { parseCondition, ConditionError, type Condition } from './condition.js';
import type { OnError, RetryPolicy, StepDefinition, WorkflowDefinition } from './definition.js';
import type { StepId } from './scope.js';
import { parseTemplate, TemplateError, type Template } from './template.js';

/** A workflow definition that cannot run, with the path of the offending field. */
export class WorkflowDefinitionError extends Error {
  override readonly name = 'WorkflowDefinitionError';
  constructor(
    /** Path inside the workflow definition, e.g. `['steps', 1, 'needs', 0]`. */
    readonly path: ReadonlyArray<string | number>,
    /** What is wrong, without the path. */
    readonly reason: string,
  ) {
    super(`${formatPath(path)}: ${reason}`);
  }
}

/** `['steps', 1, 'needs', 0]` → `steps[1].needs[0]`. */
function formatPath(path: ReadonlyArray<string | number>): string {
  return (
    path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '(workflow)'
  );
}

/** Who a step sends its message to. */
export type StepTarget =
  | { readonly kind: 'agent'; readonly agent: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'capability'; readonly capability: string }
  | { readonly kind: 'ask' };

/** A step, validated and compiled. */
export interface PlannedStep {
  readonly id: StepId;
  /** Position in the definition's `steps`. */
  readonly index: number;
  readonly target: StepTarget;
  /** The message sent to the target; for `ask` steps, the question put to the user. */
  readonly message: Template;
  readonly needs: readonly StepId[];
  /** Every step this one waits for, directly or through other steps. */
  readonly dependencies: ReadonlySet<StepId>;
  readonly condition?: Condition;
  readonly timeoutSeconds?: number;
  readonly retry: RetryPolicy;
  readonly onError: OnError;
  /** The step that runs in this one's place when it fails (`onError: { fallback }`). */
  readonly fallback?: StepId;
  /** Set on fallback steps: the step they stand in for. Such steps never run otherwise. */
  readonly fallbackFor?: StepId;
  readonly definition: StepDefinition;
}

export interface CompiledWorkflow {
  /** In definition order. */
  readonly steps: readonly PlannedStep[];
  /** Every step, each after its needs; ties keep definition order. */
  readonly order: readonly StepId[];
  readonly output?: Template;
}

const TARGETS = ['agent', 'url', 'capability', 'ask'] as const;

function fail(path: ReadonlyArray<string | number>, reason: string): never {
  throw new WorkflowDefinitionError(path, reason);
}

/** Validates `definition` (see the module comment) and compiles its steps. */
export function compileWorkflow(definition: Pick<WorkflowDefinition, 'steps' | 'output'>): CompiledWorkflow {
  const defs = definition.steps;
  if (defs.length === 0) fail(['steps'], 'a workflow needs at least one step');
  const index = new Map<StepId, number>();
  defs.forEach((s, i) => {
    if (index.has(s.id)) fail(['steps', i, 'id'], `step id "${s.id}" is used twice`);
    index.set(s.id, i);
  });
  const known = `steps: ${defs.map((s) => s.id).join(', ')}`;

  defs.forEach((s, i) => {
    const targets = TARGETS.filter((t) => s[t] !== undefined);
    if (targets.length === 0)
      fail(['steps', i], `step "${s.id}" needs a target: one of agent, url, capability or ask`);
    if (targets.length > 1)
      fail(
        ['steps', i, targets[1]!],
        `step "${s.id}" has both ${targets[0]} and ${targets[1]}; a step has exactly one target`,
      );
    if (s.ask !== undefined && s.input !== undefined)
      fail(['steps', i, 'input'], 'not allowed on an ask step: the question is the ask text itself');
    if (s.ask !== undefined && s.timeoutSeconds !== undefined)
      fail(
        ['steps', i, 'timeoutSeconds'],
        'not allowed on an ask step: a workflow waiting for its user holds no worker; cancel it to stop waiting',
      );
    if (s.ask !== undefined && s.transport !== undefined)
      fail(['steps', i, 'transport'], 'not allowed on an ask step: it sends nothing');
    if (s.ask !== undefined && s.retry.attempts > 1)
      fail(['steps', i, 'retry', 'attempts'], 'ask steps are not retried: the user answers once');
  });

  // Fallbacks first: needs may not name fallback steps.
  const fallbackFor = new Map<StepId, StepId>();
  defs.forEach((s, i) => {
    if (typeof s.onError !== 'object') return;
    const path = ['steps', i, 'onError', 'fallback'];
    const f = s.onError.fallback;
    if (!index.has(f)) fail(path, `no step "${f}" in this workflow (${known})`);
    if (f === s.id) fail(path, 'a step cannot be its own fallback');
    const other = fallbackFor.get(f);
    if (other !== undefined)
      fail(path, `"${f}" is already the fallback of "${other}"; a step is the fallback of one step`);
    fallbackFor.set(f, s.id);
  });
  defs.forEach((s, i) => {
    const failing = fallbackFor.get(s.id);
    if (failing === undefined) return;
    if (typeof s.onError === 'object')
      fail(
        ['steps', i, 'onError'],
        `step "${s.id}" is the fallback of "${failing}" and cannot have a fallback itself`,
      );
    if (s.if !== undefined)
      fail(
        ['steps', i, 'if'],
        `step "${s.id}" is the fallback of "${failing}" and runs whenever that step fails; it takes no if`,
      );
  });

  defs.forEach((s, i) => {
    const seen = new Set<StepId>();
    s.needs.forEach((n, j) => {
      const path = ['steps', i, 'needs', j];
      if (!index.has(n)) fail(path, `no step "${n}" in this workflow (${known})`);
      if (n === s.id) fail(path, 'a step cannot need itself');
      if (seen.has(n)) fail(path, `"${n}" is listed twice`);
      const failing = fallbackFor.get(n);
      if (failing !== undefined)
        fail(
          path,
          `"${n}" is the fallback of "${failing}" and runs only in its place; need "${failing}" instead`,
        );
      seen.add(n);
    });
  });

  const order = topologicalOrder(defs, index);
  const dependencies = new Map<StepId, Set<StepId>>();
  for (const id of order) {
    const deps = new Set<StepId>();
    for (const n of defs[index.get(id)!]!.needs) {
      deps.add(n);
      for (const d of dependencies.get(n)!) deps.add(d);
    }
    dependencies.set(id, deps);
  }

  defs.forEach((s, i) => {
    const failing = fallbackFor.get(s.id);
    if (failing === undefined) return;
    const allowed = dependencies.get(failing)!;
    s.needs.forEach((n, j) => {
      if (!allowed.has(n))
        fail(
          ['steps', i, 'needs', j],
          `"${n}" is not among the needs of "${failing}", the step this one is the fallback of`,
        );
    });
  });

  const steps = defs.map((s, i): PlannedStep => {
    const failing = fallbackFor.get(s.id);
    const readable = new Set(dependencies.get(s.id));
    if (failing !== undefined) {
      readable.add(failing);
      for (const d of dependencies.get(failing)!) readable.add(d);
    }
    const checkRefs = (field: string, refs: ReadonlySet<StepId>): void => {
      for (const r of refs) {
        if (!index.has(r))
          fail(['steps', i, field], `reads step "${r}", but there is no such step (${known})`);
        if (!readable.has(r))
          fail(
            ['steps', i, field],
            r === s.id
              ? 'a step cannot read its own result'
              : `reads step "${r}", which is not among the needs of "${s.id}" (direct or indirect); add it to needs`,
          );
      }
    };
    const messageField = s.ask !== undefined ? 'ask' : 'input';
    const message = template(['steps', i, messageField], s.ask ?? s.input ?? '{{ input }}');
    checkRefs(messageField, message.refs);
    let condition: Condition | undefined;
    if (s.if !== undefined) {
      condition = parseConditionAt(['steps', i, 'if'], s.if);
      checkRefs('if', condition.refs);
    }
    return {
      id: s.id,
      index: i,
      target: targetOf(s),
      message,
      needs: s.needs,
      dependencies: dependencies.get(s.id)!,
      ...(condition ? { condition } : {}),
      ...(s.timeoutSeconds !== undefined ? { timeoutSeconds: s.timeoutSeconds } : {}),
      retry: s.retry,
      onError: s.onError,
      ...(typeof s.onError === 'object' ? { fallback: s.onError.fallback } : {}),
      ...(failing !== undefined ? { fallbackFor: failing } : {}),
      definition: s,
    };
  });

  let output: Template | undefined;
  if (definition.output !== undefined) {
    output = template(['output'], definition.output);
    for (const r of output.refs)
      if (!index.has(r)) fail(['output'], `reads step "${r}", but there is no such step (${known})`);
  }
  return { steps, order, ...(output ? { output } : {}) };
}

function targetOf(s: StepDefinition): StepTarget {
  if (s.agent !== undefined) return { kind: 'agent', agent: s.agent };
  if (s.url !== undefined) return { kind: 'url', url: s.url };
  if (s.capability !== undefined) return { kind: 'capability', capability: s.capability };
  return { kind: 'ask' };
}

function template(path: ReadonlyArray<string | number>, text: string): Template {
  try {
    return parseTemplate(text);
  } catch (error) {
    if (error instanceof TemplateError) fail(path, error.message);
    throw error;
  }
}

function parseConditionAt(path: ReadonlyArray<string | number>, text: string): Condition {
  try {
    return parseCondition(text);
  } catch (error) {
    if (error instanceof ConditionError) fail(path, error.message);
    throw error;
  }
}

/**
 * Kahn's algorithm, always taking the earliest-defined ready step, so the order is stable.
 * When steps remain, they sit on or behind a cycle; a depth-first walk from one of them finds
 * the cycle to name it.
 */
function topologicalOrder(defs: readonly StepDefinition[], index: ReadonlyMap<StepId, number>): StepId[] {
  const order: StepId[] = [];
  const placed = new Set<StepId>();
  while (order.length < defs.length) {
    const next = defs.find((s) => !placed.has(s.id) && s.needs.every((n) => placed.has(n)));
    if (!next) throw cycleError(defs, index, placed);
    placed.add(next.id);
    order.push(next.id);
  }
  return order;
}

function cycleError(
  defs: readonly StepDefinition[],
  index: ReadonlyMap<StepId, number>,
  placed: ReadonlySet<StepId>,
): WorkflowDefinitionError {
  // Every unplaced step has an unplaced need, so following unplaced needs must come back round.
  const stack: StepId[] = [];
  let current = defs.find((s) => !placed.has(s.id))!;
  while (!stack.includes(current.id)) {
    stack.push(current.id);
    const need = current.needs.find((n) => !placed.has(n))!;
    current = defs[index.get(need)!]!;
  }
  const cycle = [...stack.slice(stack.indexOf(current.id)), current.id];
  // Name the edge that closes the cycle: the last step's need of the first.
  const last = defs[index.get(cycle[cycle.length - 2]!)!]!;
  const first = cycle[0]!;
  return new WorkflowDefinitionError(
    ['steps', index.get(last.id)!, 'needs', last.needs.indexOf(first)],
    `needs form a cycle: ${[last.id, ...cycle.slice(0, -1)].join(' → ')} (each step needs the next)`,
  );
}
