import { describe, expect, it } from 'vitest';
import { workflowSchema } from '../../src/workflow/definition.js';
import { WorkflowPlan } from '../../src/workflow/plan.js';
import { WorkflowDefinitionError } from '../../src/workflow/validate.js';

/** The error `WorkflowPlan.from` raises for these steps (and optional output). */
function problem(steps: unknown[], output?: string): WorkflowDefinitionError {
  const definition = workflowSchema.parse({ steps, ...(output !== undefined ? { output } : {}) });
  try {
    WorkflowPlan.from(definition);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkflowDefinitionError);
    return error as WorkflowDefinitionError;
  }
  throw new Error('expected the definition to be refused');
}

describe('workflow definitions that cannot run are refused, naming the field', () => {
  it('a duplicate step id', () => {
    const e = problem([
      { id: 'a', agent: 'x' },
      { id: 'a', agent: 'y' },
    ]);
    expect(e.path).toEqual(['steps', 1, 'id']);
    expect(e.reason).toBe('step id "a" is used twice');
    expect(e.message).toBe('steps[1].id: step id "a" is used twice');
  });

  it('a step without a target, or with two', () => {
    expect(problem([{ id: 'a' }])).toMatchObject({
      path: ['steps', 0],
      reason: 'step "a" needs a target: one of agent, url, capability or ask',
    });
    expect(problem([{ id: 'a', agent: 'x', url: 'http://127.0.0.1:9/' }])).toMatchObject({
      path: ['steps', 0, 'url'],
      reason: 'step "a" has both agent and url; a step has exactly one target',
    });
    expect(problem([{ id: 'a', capability: 'c', ask: 'Really?' }]).path).toEqual(['steps', 0, 'ask']);
  });

  it('an ask step with an input, retries, a timeout or a transport', () => {
    expect(problem([{ id: 'confirm', ask: 'Go on?', timeoutSeconds: 60 }])).toMatchObject({
      path: ['steps', 0, 'timeoutSeconds'],
    });
    expect(problem([{ id: 'confirm', ask: 'Go on?', transport: 'grpc' }]).path).toEqual([
      'steps',
      0,
      'transport',
    ]);
    expect(problem([{ id: 'confirm', ask: 'Go on?', input: '{{ input }}' }])).toMatchObject({
      path: ['steps', 0, 'input'],
      reason: 'not allowed on an ask step: the question is the ask text itself',
    });
    expect(problem([{ id: 'confirm', ask: 'Go on?', retry: { attempts: 2 } }]).path).toEqual([
      'steps',
      0,
      'retry',
      'attempts',
    ]);
  });

  it('a need that names no step, the step itself, or a step twice', () => {
    const e = problem([
      { id: 'a', agent: 'x' },
      { id: 'b', agent: 'x', needs: ['fetch'] },
    ]);
    expect(e.path).toEqual(['steps', 1, 'needs', 0]);
    expect(e.reason).toBe('no step "fetch" in this workflow (steps: a, b)');
    expect(problem([{ id: 'a', agent: 'x', needs: ['a'] }]).reason).toBe('a step cannot need itself');
    expect(
      problem([
        { id: 'a', agent: 'x' },
        { id: 'b', agent: 'x', needs: ['a', 'a'] },
      ]),
    ).toMatchObject({ path: ['steps', 1, 'needs', 1], reason: '"a" is listed twice' });
  });

  it('a cycle, named step by step', () => {
    const e = problem([
      { id: 'start', agent: 'x' },
      { id: 'a', agent: 'x', needs: ['start', 'c'] },
      { id: 'b', agent: 'x', needs: ['a'] },
      { id: 'c', agent: 'x', needs: ['b'] },
    ]);
    expect(e.reason).toBe('needs form a cycle: b → a → c → b (each step needs the next)');
    expect(e.path).toEqual(['steps', 2, 'needs', 0]);
    const two = problem([
      { id: 'a', agent: 'x', needs: ['b'] },
      { id: 'b', agent: 'x', needs: ['a'] },
    ]);
    expect(two.reason).toBe('needs form a cycle: b → a → b (each step needs the next)');
    expect(two.path).toEqual(['steps', 1, 'needs', 0]);
  });

  it('a template or condition reading a step that is not a dependency', () => {
    const steps = [
      { id: 'a', agent: 'x' },
      { id: 'b', agent: 'x' },
      { id: 'c', agent: 'x', needs: ['a'], input: '{{ steps.a.output }} and {{ steps.b.output }}' },
    ];
    expect(problem(steps)).toMatchObject({
      path: ['steps', 2, 'input'],
      reason: 'reads step "b", which is not among the needs of "c" (direct or indirect); add it to needs',
    });
    expect(
      problem([
        { id: 'a', agent: 'x' },
        { id: 'b', agent: 'x', if: 'steps.a.status == "completed"' },
      ]).path,
    ).toEqual(['steps', 1, 'if']);
    expect(problem([{ id: 'a', ask: 'About {{ steps.zzz.output }}?' }])).toMatchObject({
      path: ['steps', 0, 'ask'],
      reason: 'reads step "zzz", but there is no such step (steps: a)',
    });
    expect(problem([{ id: 'a', agent: 'x', input: '{{ steps.a.output }}' }]).reason).toBe(
      'a step cannot read its own result',
    );
  });

  it('an indirect dependency may be read', () => {
    const plan = WorkflowPlan.from(
      workflowSchema.parse({
        steps: [
          { id: 'a', agent: 'x' },
          { id: 'b', agent: 'x', needs: ['a'] },
          { id: 'c', agent: 'x', needs: ['b'], input: '{{ steps.a.output }}', if: 'steps.a.output' },
        ],
      }),
    );
    expect([...plan.step('c').dependencies].sort()).toEqual(['a', 'b']);
  });

  it('syntax errors in templates and conditions, with their position', () => {
    expect(problem([{ id: 'a', agent: 'x', input: 'Hi {{ input' }])).toMatchObject({
      path: ['steps', 0, 'input'],
      reason: '"{{" is never closed with "}}" (at character 4)',
    });
    expect(problem([{ id: 'a', agent: 'x', if: 'input ==' }])).toMatchObject({
      path: ['steps', 0, 'if'],
      reason: expect.stringMatching(/^expected a value .* \(at character 9\)$/),
    });
    expect(problem([{ id: 'a', agent: 'x' }], '{{ steps.a.out }}').path).toEqual(['output']);
  });

  it('the output template may read any step, but only steps that exist', () => {
    expect(problem([{ id: 'a', agent: 'x' }], '{{ steps.b.output }}')).toMatchObject({
      path: ['output'],
      reason: 'reads step "b", but there is no such step (steps: a)',
    });
  });

  it('bad fallbacks', () => {
    expect(problem([{ id: 'a', agent: 'x', onError: { fallback: 'nope' } }])).toMatchObject({
      path: ['steps', 0, 'onError', 'fallback'],
      reason: 'no step "nope" in this workflow (steps: a)',
    });
    expect(problem([{ id: 'a', agent: 'x', onError: { fallback: 'a' } }]).reason).toBe(
      'a step cannot be its own fallback',
    );
    // A fallback is not part of the normal DAG: nothing may need it.
    expect(
      problem([
        { id: 'a', agent: 'x', onError: { fallback: 'f' } },
        { id: 'f', agent: 'y' },
        { id: 'b', agent: 'z', needs: ['f'] },
      ]),
    ).toMatchObject({
      path: ['steps', 2, 'needs', 0],
      reason: '"f" is the fallback of "a" and runs only in its place; need "a" instead',
    });
    expect(
      problem([
        { id: 'a', agent: 'x', onError: { fallback: 'f' } },
        { id: 'b', agent: 'x', onError: { fallback: 'f' } },
        { id: 'f', agent: 'y' },
      ]).reason,
    ).toBe('"f" is already the fallback of "a"; a step is the fallback of one step');
    expect(
      problem([
        { id: 'a', agent: 'x', onError: { fallback: 'f' } },
        { id: 'f', agent: 'y', onError: { fallback: 'g' } },
        { id: 'g', agent: 'z' },
      ]).path,
    ).toEqual(['steps', 1, 'onError']);
    expect(
      problem([
        { id: 'a', agent: 'x', onError: { fallback: 'f' } },
        { id: 'f', agent: 'y', if: 'true' },
      ]).path,
    ).toEqual(['steps', 1, 'if']);
    // Its needs must already have settled when the failing step failed.
    expect(
      problem([
        { id: 'a', agent: 'x' },
        { id: 'b', agent: 'x', onError: { fallback: 'f' } },
        { id: 'f', agent: 'y', needs: ['a'] },
      ]),
    ).toMatchObject({
      path: ['steps', 2, 'needs', 0],
      reason: '"a" is not among the needs of "b", the step this one is the fallback of',
    });
  });

  it('a fallback may read the failing step and its needs', () => {
    const plan = WorkflowPlan.from(
      workflowSchema.parse({
        steps: [
          { id: 'a', agent: 'x' },
          { id: 'b', agent: 'x', needs: ['a'], onError: { fallback: 'f' } },
          { id: 'f', agent: 'y', needs: ['a'], input: '{{ steps.a.output }} ({{ steps.b.error }})' },
        ],
      }),
    );
    expect(plan.step('f').fallbackFor).toBe('b');
    expect(plan.step('b').fallback).toBe('f');
  });
});

describe('field checks of the schema', () => {
  it('step ids, timeouts and retry bounds', () => {
    const bad = workflowSchema.safeParse({
      steps: [{ id: '1st', agent: 'x', timeoutSeconds: 0, retry: { attempts: 11 } }],
    });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'steps.0.id',
      'steps.0.retry.attempts',
      'steps.0.timeoutSeconds',
    ]);
    expect(workflowSchema.safeParse({ steps: [] }).success).toBe(false);
    expect(workflowSchema.safeParse({ steps: [{ id: 'a', agent: 'x', onError: 'ignore' }] }).success).toBe(
      false,
    );
  });

  it('fills the defaults: one attempt, 500 ms doubling to 30 s, fail on error, no needs', () => {
    const definition = workflowSchema.parse({ steps: [{ id: 'a', agent: 'x' }] });
    expect(definition).toEqual({
      steps: [
        {
          id: 'a',
          agent: 'x',
          needs: [],
          retry: { attempts: 1, backoffMs: 500, maxBackoffMs: 30_000 },
          onError: 'fail',
        },
      ],
      relayArtifacts: false,
    });
    expect(
      workflowSchema.parse({ steps: [{ id: 'a', agent: 'x', retry: { attempts: 3 } }] }).steps[0]?.retry,
    ).toEqual({
      attempts: 3,
      backoffMs: 500,
      maxBackoffMs: 30_000,
    });
  });
});
