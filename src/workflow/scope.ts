/**
 * What templates and conditions of a workflow can see, and the reference syntax both share.
 *
 * A reference names one value of the scope:
 *
 * - `input`: the text of the message that started the workflow;
 * - `input.data` / `input.data.<path>`: its first data part, or a field of it;
 * - `steps.<id>.output`: a step's output text;
 * - `steps.<id>.data` / `steps.<id>.data.<path>`: a step's data, or a field of it;
 * - `steps.<id>.status`: `completed`, `failed` or `skipped`;
 * - `steps.<id>.error`: why the step failed ("" otherwise).
 *
 * A `<path>` is dot-separated keys; a key that is a number indexes an array (`items.0.name`).
 * Only own properties are read, so `constructor` or `__proto__` never reach the prototype.
 * Whatever is missing (a path that does not exist, a step that has not run) resolves to
 * `undefined`, which renders as "".
 */

/** A step's id, as written in the workflow definition. */
export type StepId = string;

export type StepStatus = 'completed' | 'failed' | 'skipped';

/** How a step ended, as the runtime records it (once, after its last attempt). */
export interface StepOutcome {
  readonly status: StepStatus;
  /** The step's output text; "" for failed and skipped steps. */
  readonly output: string;
  /** Structured output (the first data part of the reply), when there was one. */
  readonly data?: unknown;
  /** Why the step failed. */
  readonly error?: string;
}

/** Everything templates and conditions can read. */
export interface WorkflowScope {
  readonly input: { readonly text: string; readonly data?: unknown };
  readonly steps: Readonly<Record<StepId, StepOutcome>>;
}

/** A parsed reference (see the module comment for the syntax). */
export type Reference =
  | { readonly kind: 'input' }
  | { readonly kind: 'input-data'; readonly path: readonly string[] }
  | { readonly kind: 'step'; readonly step: StepId; readonly field: 'output' | 'status' | 'error' }
  | { readonly kind: 'step-data'; readonly step: StepId; readonly path: readonly string[] };

/** The same character set as step ids, so `steps.<id>` always parses. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;

export const REFERENCE_FORMS = 'input, input.data.<path>, steps.<id>.output|status|error|data.<path>';

/**
 * Parses a reference such as `steps.fetch.data.items.0`. Returns an error message (no
 * position: callers know where the reference started) for anything else.
 */
export function parseReference(text: string): Reference | string {
  const parts = text.split('.');
  if (parts.some((p) => !SEGMENT.test(p)))
    return `"${text}" is not a reference (expected ${REFERENCE_FORMS})`;
  const [head, second, third, ...rest] = parts;
  if (head === 'input') {
    if (second === undefined) return { kind: 'input' };
    if (second === 'data') return { kind: 'input-data', path: parts.slice(2) };
    return `"${text}": input has only .data (expected ${REFERENCE_FORMS})`;
  }
  if (head === 'steps' && second !== undefined) {
    if (third === 'data') return { kind: 'step-data', step: second, path: rest };
    if ((third === 'output' || third === 'status' || third === 'error') && rest.length === 0)
      return { kind: 'step', step: second, field: third };
    return `"${text}": a step has .output, .status, .error and .data.<path>`;
  }
  return `"${text}" is not a reference (expected ${REFERENCE_FORMS})`;
}

/** The step a reference reads, if any. */
export function referencedStep(ref: Reference): StepId | undefined {
  return ref.kind === 'step' || ref.kind === 'step-data' ? ref.step : undefined;
}

/** The value a reference names in `scope`; `undefined` when it is missing. */
export function resolveReference(ref: Reference, scope: WorkflowScope): unknown {
  switch (ref.kind) {
    case 'input':
      return scope.input.text;
    case 'input-data':
      return lookup(scope.input.data, ref.path);
    case 'step': {
      const outcome = Object.hasOwn(scope.steps, ref.step) ? scope.steps[ref.step] : undefined;
      return outcome?.[ref.field];
    }
    case 'step-data': {
      const outcome = Object.hasOwn(scope.steps, ref.step) ? scope.steps[ref.step] : undefined;
      return lookup(outcome?.data, ref.path);
    }
  }
}

function lookup(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * How a value appears in text: strings as they are, `undefined` as "", anything else as JSON
 * (`3`, `true`, `null`, `{"a":1}`). Values JSON cannot hold (a BigInt) render as `String(value)`.
 */
export function renderValue(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** A template or condition that does not parse: why, and where (0-based) in its source. */
export class SourceError extends Error {
  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} (at character ${position + 1})`);
  }
}
