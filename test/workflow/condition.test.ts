import { describe, expect, it } from 'vitest';
import { ConditionError, MAX_MATCH_INPUT, parseCondition } from '../../src/workflow/condition.js';
import type { WorkflowScope } from '../../src/workflow/scope.js';

const scope: WorkflowScope = {
  input: {
    text: 'please translate to French',
    data: { urgent: true, lang: 'fr', count: 3, tags: ['x', 'y'] },
  },
  steps: {
    a: { status: 'completed', output: 'Score: 42 points', data: { score: 42, ok: false } },
    b: { status: 'failed', output: '', error: 'timeout' },
    c: { status: 'skipped', output: '' },
    empty: { status: 'completed', output: '' },
    no: { status: 'completed', output: 'false' },
  },
};

const check = (source: string): boolean => parseCondition(source).evaluate(scope);

function errorOf(source: string): ConditionError {
  try {
    parseCondition(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConditionError);
    return error as ConditionError;
  }
  throw new Error(`expected "${source}" not to parse`);
}

describe('condition operators', () => {
  it('compare with == and != as text', () => {
    expect(check('steps.a.status == "completed"')).toBe(true);
    expect(check('steps.b.status == "completed"')).toBe(false);
    expect(check('steps.b.status != "completed"')).toBe(true);
    expect(check('steps.a.data.score == 42')).toBe(true);
    expect(check('steps.a.data.score == "42"')).toBe(true);
    expect(check('input.data.urgent == true')).toBe(true);
    expect(check('steps.a.data.ok == false')).toBe(true);
    expect(check('steps.b.error == "timeout"')).toBe(true);
    expect(check('3 == 3.0')).toBe(true);
  });

  it('contains looks for a substring, or for an element of an array', () => {
    expect(check('input contains "French"')).toBe(true);
    expect(check('input contains "German"')).toBe(false);
    expect(check('input.data.tags contains "y"')).toBe(true);
    expect(check('input.data.tags contains "x,"')).toBe(false);
  });

  it('matches tests a regular expression given as a string', () => {
    expect(check('steps.a.output matches "^Score: \\\\d+"')).toBe(true);
    expect(check('steps.a.output matches "^\\\\d+$"')).toBe(false);
    expect(check('input.data.lang matches "^(fr|de)$"')).toBe(true);
  });

  it('matches looks only at the first characters of a long value', () => {
    const long: WorkflowScope = { input: { text: 'a'.repeat(MAX_MATCH_INPUT) + 'END' }, steps: {} };
    expect(parseCondition('input matches "END"').evaluate(long)).toBe(false);
    expect(parseCondition('input matches "^a+$"').evaluate(long)).toBe(true);
  });

  it('a bare operand is true unless it is "" or "false"', () => {
    expect(check('steps.a.output')).toBe(true);
    expect(check('steps.empty.output')).toBe(false);
    expect(check('steps.no.output')).toBe(false);
    expect(check('steps.c.output')).toBe(false);
    expect(check('input.data.urgent')).toBe(true);
    expect(check('steps.a.data.ok')).toBe(false);
    expect(check('input.data.missing')).toBe(false);
    expect(check('true')).toBe(true);
    expect(check('false')).toBe(false);
    expect(check('""')).toBe(false);
    expect(check('0')).toBe(true);
  });

  it('combine with !, && and ||, && binding tighter than ||', () => {
    expect(check('true || false && false')).toBe(true);
    expect(check('(true || false) && false')).toBe(false);
    expect(check('!steps.empty.output && steps.a.output')).toBe(true);
    expect(check('!!true')).toBe(true);
    // ! covers a whole comparison: !(status == "failed").
    expect(check('!steps.b.status == "failed"')).toBe(false);
    expect(check('!steps.a.status == "failed" && input contains "French"')).toBe(true);
    expect(check('steps.b.status == "failed" || steps.b.status == "skipped"')).toBe(true);
  });

  it('lists the steps it reads', () => {
    const c = parseCondition(
      'steps.a.status == "completed" && (input.data.x || steps.b.data.y contains steps.c.output)',
    );
    expect([...c.refs].sort()).toEqual(['a', 'b', 'c']);
  });

  it('strings take escapes', () => {
    expect(
      parseCondition('input == "say \\"hi\\"\\n"').evaluate({ input: { text: 'say "hi"\n' }, steps: {} }),
    ).toBe(true);
  });
});

describe('condition syntax errors name the position', () => {
  it.each([
    [
      'steps.a.status ==',
      'expected a value (a reference, a "string", a number, true or false), got the end',
      17,
    ],
    ['steps.a.status = "x"', 'unexpected character "="', 15],
    ['(true || false', 'expected ")", got the end', 14],
    ['true false', 'expected an operator (==, !=, contains, matches, &&, ||), got "false"', 5],
    ['input == "open', 'string is never closed with "', 9],
    ['input matches input', '"matches" needs a regular expression in a string literal', 14],
    ['input matches "(a"', 'invalid regular expression', 14],
    ['input matches "(a+)+$"', 'quantified group ending in a quantifier', 14],
    ['input matches "(x|.*)*"', 'quantified group ending in a quantifier', 14],
    ['user.name == "x"', '"user.name" is not a reference', 0],
    ['input == contains', 'expected a value, got "contains"', 9],
    ['input == "\\q"', 'unknown escape "\\q" in string', 10],
    ['&& true', 'expected a value (a reference, a "string", a number, true or false), got "&&"', 0],
  ])('%s', (source, message, position) => {
    const error = errorOf(source);
    expect(error.reason).toContain(message);
    expect(error.position).toBe(position);
    expect(error.message).toContain(`(at character ${position + 1})`);
  });

  it('refuses conditions nested too deeply', () => {
    expect(errorOf(`${'('.repeat(65)}true${')'.repeat(65)}`).reason).toBe('nested deeper than 64 levels');
    expect(errorOf(`${'!'.repeat(65)}true`).reason).toBe('nested deeper than 64 levels');
    expect(check(`${'('.repeat(30)}true${')'.repeat(30)}`)).toBe(true);
  });

  it('refuses over-long patterns', () => {
    expect(errorOf(`input matches "${'a'.repeat(501)}"`).reason).toMatch(/longer than 500 characters/);
  });
});
