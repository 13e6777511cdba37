import { describe, expect, it } from 'vitest';
import { workflowSchema } from '../../src/workflow/definition.js';
import { retryDelayMs, WorkflowPlan } from '../../src/workflow/plan.js';
import type { StepOutcome } from '../../src/workflow/scope.js';

const planOf = (steps: unknown[], output?: string): WorkflowPlan =>
  WorkflowPlan.from(workflowSchema.parse({ steps, ...(output !== undefined ? { output } : {}) }));

const done = (output: string, data?: unknown): StepOutcome => ({
  status: 'completed',
  output,
  ...(data !== undefined ? { data } : {}),
});
const failed = (error: string): StepOutcome => ({ status: 'failed', output: 'partial', error });
const input = { text: 'go' };
const none = new Set<string>();

const diamond = planOf([
  { id: 'a', agent: 'x' },
  { id: 'b', agent: 'x', needs: ['a'] },
  { id: 'c', agent: 'x', needs: ['a'] },
  { id: 'd', agent: 'x', needs: ['b', 'c'], input: '{{ steps.b.output }}+{{ steps.c.output }}' },
]);

describe('a diamond a → {b, c} → d', () => {
  it('starts a, then b and c together, and d once both have finished', () => {
    const outcomes = new Map<string, StepOutcome>();
    expect(diamond.next(outcomes, none, input)).toEqual({
      start: ['a'],
      skip: [],
      fallbacks: [],
      done: false,
    });
    expect(diamond.next(outcomes, new Set(['a']), input).start).toEqual([]);
    outcomes.set('a', done('A'));
    expect(diamond.next(outcomes, none, input).start).toEqual(['b', 'c']);
    outcomes.set('c', done('C'));
    expect(diamond.next(outcomes, new Set(['b']), input)).toMatchObject({ start: [], done: false });
    outcomes.set('b', done('B'));
    expect(diamond.next(outcomes, none, input).start).toEqual(['d']);
    expect(diamond.render('d', { input, steps: Object.fromEntries(outcomes) })).toBe('B+C');
    outcomes.set('d', done('D'));
    expect(diamond.next(outcomes, none, input)).toEqual({ start: [], skip: [], fallbacks: [], done: true });
    expect(diamond.output({ input, steps: Object.fromEntries(outcomes) })).toBe('D');
  });

  it('gives a topological order', () => {
    expect(diamond.order()).toEqual(['a', 'b', 'c', 'd']);
    expect(
      planOf([
        { id: 'z', agent: 'x', needs: ['y'] },
        { id: 'y', agent: 'x' },
        { id: 'w', agent: 'x' },
      ]).order(),
    ).toEqual(['y', 'z', 'w']);
  });
});

describe('independent steps', () => {
  it('start together, in definition order, and all sinks make the default output', () => {
    const plan = planOf([
      { id: 'one', agent: 'x' },
      { id: 'two', agent: 'x' },
      { id: 'three', agent: 'x' },
    ]);
    expect(plan.next(new Map(), none, input).start).toEqual(['one', 'two', 'three']);
    const steps = { one: done('1'), two: done(''), three: done('3') };
    expect(plan.output({ input, steps })).toBe('1\n\n3');
  });

  it('an output template decides the result when given', () => {
    const plan = planOf([{ id: 'a', agent: 'x' }], 'Result for {{ input }}: {{ steps.a.output }}');
    expect(plan.output({ input, steps: { a: done('42') } })).toBe('Result for go: 42');
  });
});

describe('conditions', () => {
  const plan = planOf([
    { id: 'classify', agent: 'x' },
    {
      id: 'urgent',
      agent: 'x',
      needs: ['classify'],
      if: 'steps.classify.output == "urgent" || input.data.force',
    },
    {
      id: 'notify',
      agent: 'x',
      needs: ['urgent'],
      input: '[{{ steps.urgent.output }}|{{ steps.urgent.status }}]',
    },
    { id: 'only-if-urgent', agent: 'x', needs: ['urgent'], if: 'steps.urgent.status == "completed"' },
  ]);

  it('a true condition starts the step', () => {
    const outcomes = new Map([['classify', done('urgent')]]);
    expect(plan.next(outcomes, none, input)).toMatchObject({ start: ['urgent'], skip: [] });
    expect(
      plan.next(new Map([['classify', done('calm')]]), none, { text: '', data: { force: true } }).start,
    ).toEqual(['urgent']);
  });

  it('a false condition skips the step; its dependents run at once with its empty output, unless they say otherwise', () => {
    const outcomes = new Map<string, StepOutcome>([['classify', done('calm')]]);
    const next = plan.next(outcomes, none, input);
    expect(next).toEqual({
      start: ['notify'],
      skip: ['urgent', 'only-if-urgent'],
      fallbacks: [],
      done: false,
    });
    outcomes.set('urgent', { status: 'skipped', output: '' });
    outcomes.set('only-if-urgent', { status: 'skipped', output: '' });
    expect(plan.render('notify', { input, steps: Object.fromEntries(outcomes) })).toBe('[|skipped]');
    outcomes.set('notify', done('sent'));
    expect(plan.next(outcomes, none, input).done).toBe(true);
  });

  it('when every remaining step is skipped, the workflow is done in the same answer', () => {
    const p = planOf([
      { id: 'a', agent: 'x' },
      { id: 'b', agent: 'x', needs: ['a'], if: 'false' },
      { id: 'c', agent: 'x', needs: ['b'], if: 'steps.b.status == "completed"' },
    ]);
    expect(p.next(new Map([['a', done('A')]]), none, input)).toEqual({
      start: [],
      skip: ['b', 'c'],
      fallbacks: [],
      done: true,
    });
  });
});

describe('onError', () => {
  it('fail (the default): the first failure ends the workflow, even with steps still running', () => {
    const outcomes = new Map([
      ['a', done('A')],
      ['b', failed('b broke')],
    ]);
    expect(diamond.next(outcomes, new Set(['c']), input)).toEqual({
      start: [],
      skip: [],
      fallbacks: [],
      done: true,
      failure: { step: 'b', error: 'b broke' },
    });
  });

  it('continue: the step counts as failed with no output, and its dependents run', () => {
    const plan = planOf([
      { id: 'a', agent: 'x', onError: 'continue' },
      {
        id: 'b',
        agent: 'x',
        needs: ['a'],
        input: '[{{ steps.a.output }}|{{ steps.a.status }}|{{ steps.a.error }}]',
      },
    ]);
    const outcomes = new Map([['a', failed('no luck')]]);
    expect(plan.next(outcomes, none, input)).toEqual({ start: ['b'], skip: [], fallbacks: [], done: false });
    expect(plan.render('b', { input, steps: Object.fromEntries(outcomes) })).toBe('[|failed|no luck]');
  });

  describe('fallback', () => {
    const plan = planOf([
      { id: 'fetch', url: 'http://127.0.0.1:1/', onError: { fallback: 'cache' } },
      { id: 'cache', agent: 'cache', input: 'fetch failed: {{ steps.fetch.error }}' },
      {
        id: 'use',
        agent: 'x',
        needs: ['fetch'],
        input: '{{ steps.fetch.output }} ({{ steps.fetch.status }})',
      },
    ]);

    it('is never started on its own', () => {
      expect(plan.next(new Map(), none, input).start).toEqual(['fetch']);
      expect(plan.next(new Map([['fetch', done('fresh')]]), none, input).start).toEqual(['use']);
      const all = new Map([
        ['fetch', done('fresh')],
        ['use', done('used')],
      ]);
      expect(plan.next(all, none, input).done).toBe(true);
    });

    it('runs when its step fails, sees that failure, and its result stands for the failed step', () => {
      const outcomes = new Map([['fetch', failed('connection refused')]]);
      expect(plan.next(outcomes, none, input)).toEqual({
        start: [],
        skip: [],
        fallbacks: [{ failed: 'fetch', fallback: 'cache' }],
        done: false,
      });
      expect(plan.render('cache', { input, steps: Object.fromEntries(outcomes) })).toBe(
        'fetch failed: connection refused',
      );
      expect(plan.next(outcomes, new Set(['cache']), input)).toEqual({
        start: [],
        skip: [],
        fallbacks: [],
        done: false,
      });
      outcomes.set('cache', done('stale'));
      expect(plan.next(outcomes, none, input).start).toEqual(['use']);
      expect(plan.render('use', { input, steps: Object.fromEntries(outcomes) })).toBe('stale (completed)');
      expect(plan.resolve(outcomes)).toEqual({ fetch: done('stale'), cache: done('stale') });
    });

    it('a failing fallback fails the workflow under its own onError', () => {
      const outcomes = new Map([
        ['fetch', failed('refused')],
        ['cache', failed('cache empty')],
      ]);
      expect(plan.next(outcomes, none, input).failure).toEqual({ step: 'cache', error: 'cache empty' });
      const lenient = planOf([
        { id: 'fetch', agent: 'x', onError: { fallback: 'cache' } },
        { id: 'cache', agent: 'y', onError: 'continue' },
        {
          id: 'use',
          agent: 'z',
          needs: ['fetch'],
          input: '{{ steps.fetch.status }}: {{ steps.fetch.error }}',
        },
      ]);
      expect(lenient.next(outcomes, none, input)).toEqual({
        start: ['use'],
        skip: [],
        fallbacks: [],
        done: false,
      });
      expect(lenient.render('use', { input, steps: Object.fromEntries(outcomes) })).toBe(
        'failed: cache empty',
      );
    });
  });
});

describe('ask steps and retries', () => {
  it('an ask step renders its question', () => {
    const plan = planOf([
      { id: 'draft', agent: 'writer' },
      { id: 'approve', ask: 'Send this?\n{{ steps.draft.output }}', needs: ['draft'] },
    ]);
    expect(plan.step('approve').target).toEqual({ kind: 'ask' });
    expect(plan.step('draft').target).toEqual({ kind: 'agent', agent: 'writer' });
    expect(plan.render('approve', { input, steps: { draft: done('Dear Ada') } })).toBe(
      'Send this?\nDear Ada',
    );
    expect(plan.render('draft', { input, steps: {} })).toBe('go');
  });

  it('retry waits backoffMs, doubling, capped at maxBackoffMs', () => {
    const retry = planOf([
      { id: 'a', agent: 'x', retry: { attempts: 5, backoffMs: 1000, maxBackoffMs: 3000 } },
    ]).step('a').retry;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(retry, n))).toEqual([1000, 2000, 3000, 3000]);
    expect(planOf([{ id: 'a', agent: 'x' }]).step('a').retry).toEqual({
      attempts: 1,
      backoffMs: 500,
      maxBackoffMs: 30_000,
    });
  });

  it('step() refuses unknown ids', () => {
    expect(() => diamond.step('nope')).toThrow('workflow has no step "nope"');
  });
});
