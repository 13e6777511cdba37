import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { workflowSchema } from '../../src/workflow/definition.js';
import { WorkflowPlan } from '../../src/workflow/plan.js';
import type { StepOutcome } from '../../src/workflow/scope.js';

/**
 * A random DAG: step i may need any earlier-generated step; definition order is shuffled. Steps
 * may have conditions, fail (fatally or not), and have a fallback step `f<i>` that may fail too.
 */
const arbitraryWorkflow = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({
    needs: fc.tuple(
      ...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => j))),
    ),
    conditions: fc.array(fc.constantFrom('none', 'true', 'false', 'need-completed'), {
      minLength: n,
      maxLength: n,
    }),
    fails: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    fatal: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    fallback: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    fallbackFails: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
    order: fc.shuffledSubarray(
      Array.from({ length: n }, (_, i) => i),
      { minLength: n, maxLength: n },
    ),
    picks: fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
  }),
);

type Generated = typeof arbitraryWorkflow extends fc.Arbitrary<infer T> ? T : never;

function build(g: Generated) {
  const id = (i: number): string => `s${i}`;
  const onError = g.fatal.map((fatal) => (fatal ? 'fail' : 'continue'));
  const steps = g.order.flatMap((i) => {
    const needs = (g.needs[i] ?? []).map(id);
    const condition = g.conditions[i];
    const step: Record<string, unknown> = { id: id(i), agent: 'x', needs, onError: onError[i] };
    if (condition === 'true' || condition === 'false') step.if = condition;
    if (condition === 'need-completed' && needs[0] !== undefined)
      step.if = `steps.${needs[0]}.status == "completed"`;
    if (!g.fallback[i]) return [step];
    step.onError = { fallback: `f${i}` };
    return [step, { id: `f${i}`, agent: 'y', needs: needs.slice(0, 1), onError: onError[i] }];
  });
  return { plan: WorkflowPlan.from(workflowSchema.parse({ steps })), steps };
}

describe('scheduling random DAGs', () => {
  it('terminates, starts each step at most once and only after its needs settle, and accounts for every step', () => {
    fc.assert(
      fc.property(arbitraryWorkflow, (g) => {
        const { plan, steps } = build(g);
        const byId = new Map(steps.map((s) => [s.id as string, s]));
        const outcomes = new Map<string, StepOutcome>();
        const running: string[] = [];
        const started = new Set<string>();
        const skipped = new Set<string>();
        let failure: { step: string; error: string } | undefined;
        let pick = 0;
        for (let round = 0; ; round += 1) {
          expect(round).toBeLessThan(4 * steps.length + 4);
          const next = plan.next(outcomes, new Set(running), { text: 'in' });
          for (const id of next.skip) {
            expect(started.has(id) || skipped.has(id)).toBe(false);
            skipped.add(id);
            outcomes.set(id, { status: 'skipped', output: '' });
          }
          for (const id of next.start) {
            expect(started.has(id) || skipped.has(id)).toBe(false);
            for (const need of byId.get(id)!.needs as string[]) {
              expect(outcomes.has(need)).toBe(true);
              // A failed need with a fallback has settled only once its fallback has.
              if (outcomes.get(need)?.status === 'failed' && g.fallback[Number(need.slice(1))])
                expect(outcomes.has(`f${need.slice(1)}`)).toBe(true);
            }
            started.add(id);
            running.push(id);
          }
          for (const { failed, fallback } of next.fallbacks) {
            expect(outcomes.get(failed)?.status).toBe('failed');
            expect(started.has(fallback)).toBe(false);
            started.add(fallback);
            running.push(fallback);
          }
          if (next.done) {
            failure = next.failure;
            break;
          }
          // Something must be in flight, or the plan is stuck.
          expect(running.length).toBeGreaterThan(0);
          const [id] = running.splice((g.picks[pick++ % g.picks.length] ?? 0) % running.length, 1);
          const i = Number(id!.slice(1));
          const fails = id!.startsWith('f') ? g.fallbackFails[i] : g.fails[i];
          outcomes.set(
            id!,
            fails
              ? { status: 'failed', output: '', error: `${id} failed` }
              : { status: 'completed', output: id! },
          );
        }

        if (failure) {
          // Only a step that failed with onError: fail ends the workflow (a fallback's failure
          // only once its step has failed too).
          expect(byId.get(failure.step)?.onError).toBe('fail');
          expect(outcomes.get(failure.step)?.status).toBe('failed');
          if (failure.step.startsWith('f'))
            expect(outcomes.get(`s${failure.step.slice(1)}`)?.status).toBe('failed');
          return;
        }
        expect(running).toEqual([]);
        for (const s of steps) {
          const id = s.id as string;
          if (id.startsWith('f')) {
            // A fallback runs exactly when its step failed.
            expect(started.has(id)).toBe(outcomes.get(`s${id.slice(1)}`)?.status === 'failed');
            continue;
          }
          expect(started.has(id) !== skipped.has(id)).toBe(true);
          if (s.if === 'true') expect(started.has(id)).toBe(true);
          if (s.if === 'false') expect(skipped.has(id)).toBe(true);
          const m = /^steps\.(\w+)\.status/.exec(String(s.if ?? ''));
          if (m) expect(started.has(id)).toBe(plan.resolve(outcomes)[m[1]!]?.status === 'completed');
        }
      }),
      { numRuns: 300 },
    );
  });
});
