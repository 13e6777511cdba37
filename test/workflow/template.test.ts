import { describe, expect, it } from 'vitest';
import type { WorkflowScope } from '../../src/workflow/scope.js';
import { parseTemplate, TemplateError } from '../../src/workflow/template.js';

const scope: WorkflowScope = {
  input: { text: 'hello', data: { city: 'Paris', dates: ['2026-01-02'], nested: { n: 3 } } },
  steps: {
    fetch: {
      status: 'completed',
      output: 'fetched text',
      data: { items: [{ name: 'a' }, { name: 'b' }], ok: true },
    },
    broken: { status: 'failed', output: '', error: 'upstream said 503' },
    maybe: { status: 'skipped', output: '' },
  },
};

function errorOf(text: string): TemplateError {
  try {
    parseTemplate(text);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }
  throw new Error(`expected "${text}" not to parse`);
}

describe('template references', () => {
  it('render the input text and fields of the input data', () => {
    expect(
      parseTemplate('{{input}} / {{ input.data.city }} / {{  input.data.dates.0  }}').render(scope),
    ).toBe('hello / Paris / 2026-01-02');
  });

  it('render a step output, status, error and data fields', () => {
    const t = parseTemplate(
      '{{ steps.fetch.output }}|{{ steps.fetch.status }}|{{ steps.broken.status }}: {{ steps.broken.error }}|' +
        '{{ steps.maybe.status }}|{{ steps.fetch.data.items.1.name }}',
    );
    expect(t.render(scope)).toBe('fetched text|completed|failed: upstream said 503|skipped|b');
  });

  it('list the steps they read', () => {
    const t = parseTemplate('{{ input }} {{ steps.a.output }} {{ steps.b.data.x }} {{ steps.a.status }}');
    expect([...t.refs].sort()).toEqual(['a', 'b']);
    expect(parseTemplate('no placeholders').refs.size).toBe(0);
  });

  it('render values that are not strings as JSON', () => {
    const t = parseTemplate(
      '{{ input.data.nested }} {{ input.data.nested.n }} {{ steps.fetch.data.ok }} {{ input.data.dates }}',
    );
    expect(t.render(scope)).toBe('{"n":3} 3 true ["2026-01-02"]');
  });

  it('render missing paths, steps and fields as ""', () => {
    const t = parseTemplate(
      '[{{ input.data.nope.deeper }}][{{ steps.ghost.output }}][{{ steps.fetch.error }}][{{ steps.fetch.data.items.9 }}]' +
        '[{{ steps.fetch.data.constructor }}][{{ input.data.city.length }}]',
    );
    expect(t.render(scope)).toBe('[][][][][][]');
    expect(parseTemplate('[{{ input.data.x }}]').render({ input: { text: '' }, steps: {} })).toBe('[]');
  });
});

describe('template syntax', () => {
  it('keeps literal text, and \\{{ writes a literal {{', () => {
    expect(parseTemplate('a \\{{ input }} b {{ input }} }} c').render(scope)).toBe(
      'a {{ input }} b hello }} c',
    );
    expect(parseTemplate('back\\slash').render(scope)).toBe('back\\slash');
  });

  it('reports an unclosed placeholder with its position', () => {
    const error = errorOf('Dear {{ input');
    expect(error.position).toBe(5);
    expect(error.message).toBe('"{{" is never closed with "}}" (at character 6)');
  });

  it('reports unknown references with their position', () => {
    expect(errorOf('x {{ user.name }}').position).toBe(5);
    expect(errorOf('x {{ user.name }}').message).toMatch(/"user.name" is not a reference \(expected input, /);
    expect(errorOf('{{ steps.a.result }}').message).toMatch(/a step has .output, .status, .error and .data/);
    expect(errorOf('{{ steps.a }}').message).toMatch(/a step has/);
    expect(errorOf('{{ input.text }}').message).toMatch(/input has only .data/);
    expect(errorOf('{{ steps.a..output }}').message).toMatch(/is not a reference/);
    expect(errorOf('a {{ }}').message).toBe('empty placeholder "{{ }}" (at character 3)');
  });
});
