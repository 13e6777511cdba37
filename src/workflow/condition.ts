/**
 * Conditions for a workflow step's `if`.
 *
 * Operands are references without braces (`input`, `input.data.x`, `steps.a.status`,
 * `steps.b.data.score`; see `scope.ts`) or literals: double-quoted strings (`\"`, `\\`, `\n`,
 * `\t` escapes), numbers (`3`, `-1.5`), `true`, `false`. Operators, loosest first:
 *
 * | operator                              | meaning                                                    |
 * | ------------------------------------- | ---------------------------------------------------------- |
 * | `a \|\| b`                            | either is true                                             |
 * | `a && b`                              | both are true                                              |
 * | `!a`                                  | not (binds looser than comparisons: `!a == b` is `!(a == b)`) |
 * | `a == b`, `a != b`                    | equal as text (values render as in templates: `3 == "3"`)  |
 * | `a contains b`                        | `b` is a substring of `a`, or, when `a` is an array, an element |
 * | `a matches "regex"`                   | the regular expression (a string literal) matches `a`     |
 *
 * Parentheses group. A bare operand is true when its text is neither "" nor "false", so
 * `steps.a.output` means "a produced output" and `input.data.urgent` works for `true`/`false`.
 *
 * Everything is parsed when the configuration loads (errors name their position); evaluation is
 * a walk over the parsed tree (no eval, no Function). Regular expressions are compiled once;
 * patterns longer than {@link MAX_PATTERN_LENGTH} and patterns with a quantified group that ends
 * in a quantifier (`(a+)+`, `(.*)*`, the classic catastrophic backtracking shapes) are refused,
 * and only the first {@link MAX_MATCH_INPUT} characters of a value are matched.
 */
import { parseReference, referencedStep, renderValue, resolveReference } from './scope.js';
import { SourceError, type Reference, type StepId, type WorkflowScope } from './scope.js';

/** Longest regular expression `matches` accepts. */
export const MAX_PATTERN_LENGTH = 500;
/** Characters of a value `matches` looks at. */
export const MAX_MATCH_INPUT = 10_000;
/** Longest condition accepted. */
const MAX_CONDITION_LENGTH = 4000;
/** Deepest nesting of parentheses and `!`, so the recursive parser cannot exhaust the stack. */
const MAX_NESTING = 64;

/** A condition that does not parse, at a 0-based `position` in its source. */
export class ConditionError extends SourceError {
  override readonly name = 'ConditionError';
}

/** A parsed condition. */
export interface Condition {
  readonly source: string;
  /** The steps the condition reads. */
  readonly refs: ReadonlySet<StepId>;
  evaluate(scope: WorkflowScope): boolean;
}

type Node =
  | { readonly kind: 'literal'; readonly value: string | number | boolean }
  | { readonly kind: 'ref'; readonly ref: Reference }
  | { readonly kind: 'not'; readonly operand: Node }
  | { readonly kind: 'and' | 'or'; readonly left: Node; readonly right: Node }
  | { readonly kind: '==' | '!=' | 'contains'; readonly left: Node; readonly right: Node }
  | { readonly kind: 'matches'; readonly left: Node; readonly pattern: RegExp };

interface Token {
  readonly kind: 'string' | 'number' | 'word' | 'op' | 'end';
  /** The source text; for strings, the unescaped value. */
  readonly text: string;
  readonly pos: number;
}

const WORD = /[A-Za-z0-9_.-]/;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '"') {
      const start = i;
      let value = '';
      i += 1;
      for (;;) {
        const d = src[i];
        if (d === undefined) throw new ConditionError('string is never closed with "', start);
        i += 1;
        if (d === '"') break;
        if (d !== '\\') {
          value += d;
          continue;
        }
        const e = src[i];
        i += 1;
        if (e === '"' || e === '\\') value += e;
        else if (e === 'n') value += '\n';
        else if (e === 't') value += '\t';
        else throw new ConditionError(`unknown escape "\\${e ?? ''}" in string`, i - 2);
      }
      tokens.push({ kind: 'string', text: value, pos: start });
    } else if (['==', '!=', '&&', '||'].includes(src.slice(i, i + 2))) {
      tokens.push({ kind: 'op', text: src.slice(i, i + 2), pos: i });
      i += 2;
    } else if (c === '!' || c === '(' || c === ')') {
      tokens.push({ kind: 'op', text: c, pos: i });
      i += 1;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < src.length && WORD.test(src[i] ?? '')) i += 1;
      const text = src.slice(start, i);
      const kind = /^-?\d+(\.\d+)?$/.test(text) ? 'number' : 'word';
      tokens.push({ kind, text, pos: start });
    } else {
      throw new ConditionError(`unexpected character "${c}"`, i);
    }
  }
  tokens.push({ kind: 'end', text: '', pos: src.length });
  return tokens;
}

/** A group ending in a quantifier that is itself quantified: `(a+)+`, `(x|y*)*`, `(\d{2,})+`. */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*(?:[+*]|\{\d+,?\d*\})\)(?:[+*]|\{\d+,?\d*\})/;

function compilePattern(token: Token): RegExp {
  if (token.kind !== 'string')
    throw new ConditionError('"matches" needs a regular expression in a string literal', token.pos);
  if (token.text.length > MAX_PATTERN_LENGTH)
    throw new ConditionError(`regular expression longer than ${MAX_PATTERN_LENGTH} characters`, token.pos);
  if (NESTED_QUANTIFIER.test(token.text))
    throw new ConditionError(
      'regular expression has a quantified group ending in a quantifier (like "(a+)+"), which can take forever to match',
      token.pos,
    );
  try {
    return new RegExp(token.text);
  } catch (error) {
    throw new ConditionError(`invalid regular expression: ${(error as Error).message}`, token.pos);
  }
}

/** Parses an `if` expression; throws a {@link ConditionError} naming the position of the problem. */
export function parseCondition(source: string): Condition {
  if (source.length > MAX_CONDITION_LENGTH)
    throw new ConditionError(
      `condition longer than ${MAX_CONDITION_LENGTH} characters`,
      MAX_CONDITION_LENGTH,
    );
  const tokens = tokenize(source);
  const refs = new Set<StepId>();
  let i = 0;
  let depth = 0;
  const peek = (): Token => tokens[i] ?? tokens[tokens.length - 1]!;
  const nested = <T>(parse: () => T): T => {
    if (++depth > MAX_NESTING)
      throw new ConditionError(`nested deeper than ${MAX_NESTING} levels`, peek().pos);
    try {
      return parse();
    } finally {
      depth -= 1;
    }
  };
  const isOp = (...ops: string[]): boolean => {
    const t = peek();
    return (t.kind === 'op' || t.kind === 'word') && ops.includes(t.text);
  };
  const unexpected = (t: Token, expected: string): ConditionError =>
    new ConditionError(
      t.kind === 'end' ? `expected ${expected}, got the end` : `expected ${expected}, got "${t.text}"`,
      t.pos,
    );

  const parseOr = (): Node => {
    let left = parseAnd();
    while (isOp('||')) {
      i += 1;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Node => {
    let left = parseNot();
    while (isOp('&&')) {
      i += 1;
      left = { kind: 'and', left, right: parseNot() };
    }
    return left;
  };
  const parseNot = (): Node => {
    if (peek().kind === 'op' && peek().text === '!') {
      i += 1;
      return { kind: 'not', operand: nested(parseNot) };
    }
    return parseComparison();
  };
  const parseComparison = (): Node => {
    const left = parsePrimary();
    if (isOp('==', '!=', 'contains')) {
      const op = peek().text as '==' | '!=' | 'contains';
      i += 1;
      return { kind: op, left, right: parsePrimary() };
    }
    if (isOp('matches')) {
      i += 1;
      const token = peek();
      const pattern = compilePattern(token);
      i += 1;
      return { kind: 'matches', left, pattern };
    }
    return left;
  };
  const parsePrimary = (): Node => {
    const t = peek();
    if (t.kind === 'op' && t.text === '(') {
      i += 1;
      const inner = nested(parseOr);
      if (!(peek().kind === 'op' && peek().text === ')')) throw unexpected(peek(), '")"');
      i += 1;
      return inner;
    }
    i += 1;
    if (t.kind === 'string') return { kind: 'literal', value: t.text };
    if (t.kind === 'number') return { kind: 'literal', value: Number(t.text) };
    if (t.kind === 'word') {
      if (t.text === 'true' || t.text === 'false') return { kind: 'literal', value: t.text === 'true' };
      if (t.text === 'contains' || t.text === 'matches') throw unexpected(t, 'a value');
      const ref = parseReference(t.text);
      if (typeof ref === 'string') throw new ConditionError(ref, t.pos);
      const step = referencedStep(ref);
      if (step !== undefined) refs.add(step);
      return { kind: 'ref', ref };
    }
    throw unexpected(t, 'a value (a reference, a "string", a number, true or false)');
  };

  const root = parseOr();
  if (peek().kind !== 'end') throw unexpected(peek(), 'an operator (==, !=, contains, matches, &&, ||)');
  return { source, refs, evaluate: (scope) => truthy(evaluate(root, scope)) };
}

function truthy(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const text = renderValue(value);
  return text !== '' && text !== 'false';
}

function evaluate(node: Node, scope: WorkflowScope): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'ref':
      return resolveReference(node.ref, scope);
    case 'not':
      return !truthy(evaluate(node.operand, scope));
    case 'and':
      return truthy(evaluate(node.left, scope)) && truthy(evaluate(node.right, scope));
    case 'or':
      return truthy(evaluate(node.left, scope)) || truthy(evaluate(node.right, scope));
    case '==':
      return renderValue(evaluate(node.left, scope)) === renderValue(evaluate(node.right, scope));
    case '!=':
      return renderValue(evaluate(node.left, scope)) !== renderValue(evaluate(node.right, scope));
    case 'contains': {
      const haystack = evaluate(node.left, scope);
      const needle = renderValue(evaluate(node.right, scope));
      if (Array.isArray(haystack)) return haystack.some((item) => renderValue(item) === needle);
      return renderValue(haystack).includes(needle);
    }
    case 'matches':
      return node.pattern.test(renderValue(evaluate(node.left, scope)).slice(0, MAX_MATCH_INPUT));
  }
}
