/**
 * Templates for the text a workflow sends to its steps and returns as its result.
 *
 * Syntax: literal text with `{{ reference }}` placeholders (see `scope.ts` for the references:
 * `input`, `input.data.<path>`, `steps.<id>.output|status|error|data.<path>`). Spaces inside the
 * braces are optional. `\{{` writes a literal `{{`; no other backslash is special. A value that
 * is not a string renders as JSON, and a missing one as "".
 *
 * Templates are parsed once, when the configuration is loaded, so syntax errors are reported
 * then, with their position; rendering never fails.
 */
import { parseReference, referencedStep, renderValue, resolveReference } from './scope.js';
import { SourceError, type Reference, type StepId, type WorkflowScope } from './scope.js';

/** A template that does not parse, at a 0-based `position` in its source. */
export class TemplateError extends SourceError {
  override readonly name = 'TemplateError';
}

/** A parsed template. */
export interface Template {
  readonly source: string;
  /** The steps the template reads, so the plan can check they have settled before it renders. */
  readonly refs: ReadonlySet<StepId>;
  /** The text, with every placeholder replaced by its value in `scope`. */
  render(scope: WorkflowScope): string;
}

type Piece = string | Reference;

/** Parses `text`; throws a {@link TemplateError} for an unclosed or unknown placeholder. */
export function parseTemplate(text: string): Template {
  const pieces: Piece[] = [];
  const refs = new Set<StepId>();
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('\\{{', i)) {
      literal += '{{';
      i += 3;
      continue;
    }
    if (!text.startsWith('{{', i)) {
      literal += text[i];
      i += 1;
      continue;
    }
    const close = text.indexOf('}}', i + 2);
    if (close < 0) throw new TemplateError('"{{" is never closed with "}}"', i);
    const inner = text.slice(i + 2, close);
    const name = inner.trim();
    const at = i + 2 + (inner.length - inner.trimStart().length);
    if (name === '') throw new TemplateError('empty placeholder "{{ }}"', i);
    const ref = parseReference(name);
    if (typeof ref === 'string') throw new TemplateError(ref, at);
    if (literal !== '') pieces.push(literal);
    literal = '';
    pieces.push(ref);
    const step = referencedStep(ref);
    if (step !== undefined) refs.add(step);
    i = close + 2;
  }
  if (literal !== '') pieces.push(literal);
  return {
    source: text,
    refs,
    render: (scope) =>
      pieces.map((p) => (typeof p === 'string' ? p : renderValue(resolveReference(p, scope)))).join(''),
  };
}
