/**
 * The demo MCP server's `calculate` tool: a recursive-descent parser for arithmetic with a
 * few functions and constants. Nothing is ever handed to eval or Function.
 */

/** Longest expression `calculate` accepts. */
export const MAX_EXPRESSION_LENGTH = 1000;
/** Deepest nesting of parentheses and calls. */
const MAX_NESTING = 64;

/** An expression `calculate` refuses, at a 0-based `position`. */
export class CalcError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

interface Token {
  readonly kind: 'number' | 'name' | 'op' | 'end';
  /** The source text ("" at the end). */
  readonly text: string;
  readonly pos: number;
}

const FUNCTIONS: Record<string, { min: number; max: number; apply: (args: number[]) => number }> = {
  sqrt: { min: 1, max: 1, apply: ([x = NaN]) => Math.sqrt(x) },
  abs: { min: 1, max: 1, apply: ([x = NaN]) => Math.abs(x) },
  round: { min: 1, max: 1, apply: ([x = NaN]) => Math.round(x) },
  floor: { min: 1, max: 1, apply: ([x = NaN]) => Math.floor(x) },
  ceil: { min: 1, max: 1, apply: ([x = NaN]) => Math.ceil(x) },
  min: { min: 1, max: Infinity, apply: (args) => Math.min(...args) },
  max: { min: 1, max: Infinity, apply: (args) => Math.max(...args) },
};
const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };
const KNOWN_NAMES = `functions ${Object.keys(FUNCTIONS).join(', ')}; constants ${Object.keys(CONSTANTS).join(', ')}`;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s+|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)|([-+*/%^(),])/y;
  for (let pos = 0; pos < src.length; pos = re.lastIndex) {
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new CalcError(`unexpected character "${src[pos]}"`, pos);
    if (m[1] !== undefined) tokens.push({ kind: 'number', text: m[1], pos });
    else if (m[2] !== undefined) tokens.push({ kind: 'name', text: m[2], pos });
    else if (m[3] !== undefined) tokens.push({ kind: 'op', text: m[3], pos });
  }
  tokens.push({ kind: 'end', text: '', pos: src.length });
  return tokens;
}

export function evaluate(expression: string): number {
  const tokens = tokenize(expression);
  let i = 0;
  let depth = 0;
  const peek = (): Token => tokens[i] ?? tokens[tokens.length - 1]!;
  const isOp = (t: Token, ...ops: string[]): boolean => t.kind === 'op' && ops.includes(t.text);
  const unexpected = (t: Token): CalcError =>
    new CalcError(t.kind === 'end' ? 'unexpected end of expression' : `unexpected "${t.text}"`, t.pos);
  const finite = (value: number, what: string, pos: number): number => {
    if (Number.isFinite(value)) return value;
    throw new CalcError(Number.isNaN(value) ? `${what} has no real result` : `${what} overflows`, pos);
  };
  const nested = (parse: () => number): number => {
    if (++depth > MAX_NESTING) throw new CalcError(`nesting deeper than ${MAX_NESTING} levels`, peek().pos);
    try {
      return parse();
    } finally {
      depth--;
    }
  };

  // sum := product (("+" | "-") product)*
  const sum = (): number => {
    let left = product();
    for (let t = peek(); isOp(t, '+', '-'); t = peek()) {
      i++;
      const right = product();
      left = finite(t.text === '+' ? left + right : left - right, `"${t.text}"`, t.pos);
    }
    return left;
  };
  // product := unary (("*" | "/" | "%") unary)*
  const product = (): number => {
    let left = unary();
    for (let t = peek(); isOp(t, '*', '/', '%'); t = peek()) {
      i++;
      const right = unary();
      if (t.text !== '*' && right === 0)
        throw new CalcError(t.text === '/' ? 'division by zero' : 'modulo by zero', t.pos);
      const value = t.text === '*' ? left * right : t.text === '/' ? left / right : left % right;
      left = finite(value, `"${t.text}"`, t.pos);
    }
    return left;
  };
  // unary := ("-" | "+") unary | power     (so -2^2 is -(2^2))
  const unary = (): number => {
    const t = peek();
    if (!isOp(t, '-', '+')) return power();
    i++;
    const value = nested(unary);
    return t.text === '-' ? -value : value;
  };
  // power := primary ("^" unary)?          (right-associative: 2^3^2 is 2^9)
  const power = (): number => {
    const base = primary();
    const t = peek();
    if (!isOp(t, '^')) return base;
    i++;
    return finite(base ** nested(unary), '"^"', t.pos);
  };
  // primary := number | constant | function "(" sum ("," sum)* ")" | "(" sum ")"
  const primary = (): number => {
    const t = peek();
    i++;
    if (t.kind === 'number') return finite(Number(t.text), `number ${t.text}`, t.pos);
    if (isOp(t, '(')) {
      const value = nested(sum);
      if (!isOp(peek(), ')')) throw new CalcError('unclosed "("', t.pos);
      i++;
      return value;
    }
    if (t.kind !== 'name') throw unexpected(t);
    const name = t.text.toLowerCase();
    // Own properties only: "constructor" or "toString" must not find Object.prototype members.
    const fn = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    const constant = Object.hasOwn(CONSTANTS, name) ? CONSTANTS[name] : undefined;
    if (constant !== undefined) return constant;
    if (!fn) throw new CalcError(`unknown name "${t.text}" (known: ${KNOWN_NAMES})`, t.pos);
    if (!isOp(peek(), '(')) throw new CalcError(`${name} is a function: write ${name}(...)`, t.pos);
    i++;
    const args: number[] = [];
    if (!isOp(peek(), ')')) {
      args.push(nested(sum));
      while (isOp(peek(), ',')) {
        i++;
        args.push(nested(sum));
      }
    }
    if (!isOp(peek(), ')')) throw unexpected(peek());
    i++;
    if (args.length < fn.min || args.length > fn.max) {
      const arity = fn.max === Infinity ? `at least ${fn.min} argument` : `${fn.min} argument`;
      throw new CalcError(`${name} takes ${arity}${fn.min === 1 ? '' : 's'}, got ${args.length}`, t.pos);
    }
    return finite(fn.apply(args), name, t.pos);
  };

  const result = sum();
  if (peek().kind !== 'end') throw unexpected(peek());
  return result === 0 ? 0 : result; // no "-0"
}
