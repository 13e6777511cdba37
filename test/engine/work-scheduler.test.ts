import { describe, expect, it } from 'vitest';
import { AgentdError } from '../../src/errors.js';
import { WorkScheduler, type ScheduledJob } from '../../src/engine/work-scheduler.js';

/** A job the test finishes by hand; `started` resolves when the scheduler runs it. */
interface ControlledJob extends ScheduledJob {
  readonly started: Promise<void>;
  readonly hasStarted: () => boolean;
  finish(): void;
}

function controlledJobs(): { job: (id: string) => ControlledJob; order: string[] } {
  const order: string[] = [];
  const job = (id: string): ControlledJob => {
    let markStarted!: () => void;
    let finish!: () => void;
    let running = false;
    const started = new Promise<void>((r) => (markStarted = r));
    const done = new Promise<void>((r) => (finish = r));
    return {
      id,
      started,
      hasStarted: () => running,
      finish: () => finish(),
      run: () => {
        running = true;
        order.push(id);
        markStarted();
        return done;
      },
    };
  };
  return { job, order };
}

/** Lets every pending promise callback (e.g. the scheduler's `.finally`) run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function catchError(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('WorkScheduler', () => {
  it('runs at most maxConcurrent jobs and queues the rest', () => {
    const { job, order } = controlledJobs();
    const s = new WorkScheduler(2, 10);
    const jobs = ['a', 'b', 'c', 'd', 'e'].map(job);
    for (const j of jobs) s.submit(j);
    expect(order).toEqual(['a', 'b']);
    expect(s.running).toBe(2);
    expect(s.queued).toBe(3);
    expect(jobs.map((j) => j.hasStarted())).toEqual([true, true, false, false, false]);
  });

  it('starts queued jobs first-in first-out as workers free up, never exceeding the cap', async () => {
    const { job, order } = controlledJobs();
    const s = new WorkScheduler(2, 10);
    const jobs = ['a', 'b', 'c', 'd', 'e'].map(job);
    for (const j of jobs) s.submit(j);

    jobs[1]!.finish();
    await jobs[2]!.started;
    expect(order).toEqual(['a', 'b', 'c']);
    expect(s.running).toBe(2);
    expect(s.queued).toBe(2);

    jobs[0]!.finish();
    await jobs[3]!.started;
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(s.running).toBe(2);

    jobs[2]!.finish();
    await jobs[4]!.started;
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(s.running).toBe(2);
    expect(s.queued).toBe(0);

    jobs[3]!.finish();
    jobs[4]!.finish();
    await s.idle();
    expect(s.running).toBe(0);
  });

  it('refuses a submission beyond the queue depth with a retryable QUEUE_FULL and keeps the queue intact', () => {
    const { job, order } = controlledJobs();
    const s = new WorkScheduler(1, 2);
    s.submit(job('a'));
    s.submit(job('b'));
    expect(s.hasCapacity()).toBe(true);
    s.submit(job('c'));
    expect(s.hasCapacity()).toBe(false);

    const error = catchError(() => s.submit(job('d')));
    expect(error).toBeInstanceOf(AgentdError);
    expect((error as AgentdError).code).toBe('QUEUE_FULL');
    expect((error as AgentdError).retryable).toBe(true);
    expect((error as AgentdError).httpStatus).toBe(503);
    expect(s.running).toBe(1);
    expect(s.queued).toBe(2);
    expect(order).toEqual(['a']);
  });

  it('with a queue depth of 0 refuses anything beyond the running jobs', () => {
    const { job } = controlledJobs();
    const s = new WorkScheduler(1, 0);
    s.submit(job('a'));
    expect(s.hasCapacity()).toBe(false);
    expect((catchError(() => s.submit(job('b'))) as AgentdError).code).toBe('QUEUE_FULL');
  });

  it('accepts work again once the queue has room', async () => {
    const { job } = controlledJobs();
    const s = new WorkScheduler(1, 1);
    const a = job('a');
    const b = job('b');
    s.submit(a);
    s.submit(b);
    expect(() => s.submit(job('x'))).toThrow(AgentdError);
    a.finish();
    await b.started;
    expect(s.hasCapacity()).toBe(true);
    const c = job('c');
    s.submit(c);
    expect(s.queued).toBe(1);
    b.finish();
    await c.started;
    c.finish();
    await s.idle();
  });

  it('cancelQueued removes a waiting job so it never runs, and refuses running or unknown ids', async () => {
    const { job, order } = controlledJobs();
    const s = new WorkScheduler(1, 10);
    const [a, b, c] = ['a', 'b', 'c'].map(job) as [ControlledJob, ControlledJob, ControlledJob];
    s.submit(a);
    s.submit(b);
    s.submit(c);
    expect(s.cancelQueued('b')).toBe(true);
    expect(s.cancelQueued('b')).toBe(false);
    expect(s.cancelQueued('a')).toBe(false);
    expect(s.cancelQueued('nope')).toBe(false);
    expect(s.queued).toBe(1);

    a.finish();
    await c.started;
    c.finish();
    await s.idle();
    expect(order).toEqual(['a', 'c']);
    expect(b.hasStarted()).toBe(false);
  });

  it('idle() resolves at once when nothing runs, and only after the last job when busy', async () => {
    const s = new WorkScheduler(1, 10);
    await s.idle();

    const { job } = controlledJobs();
    const a = job('a');
    const b = job('b');
    s.submit(a);
    s.submit(b);
    let idle = false;
    const waiting = s.idle().then(() => {
      idle = true;
    });
    a.finish();
    await b.started;
    await settle();
    expect(idle).toBe(false);
    b.finish();
    await waiting;
    expect(idle).toBe(true);
    expect(s.running).toBe(0);
    expect(s.queued).toBe(0);
  });

  it('drainQueue returns the waiting jobs in order without touching the running ones', async () => {
    const { job, order } = controlledJobs();
    const s = new WorkScheduler(1, 10);
    const [a, b, c] = ['a', 'b', 'c'].map(job) as [ControlledJob, ControlledJob, ControlledJob];
    s.submit(a);
    s.submit(b);
    s.submit(c);
    const drained = s.drainQueue();
    expect(drained.map((j) => j.id)).toEqual(['b', 'c']);
    expect(s.queued).toBe(0);
    expect(s.running).toBe(1);

    a.finish();
    await s.idle();
    expect(order).toEqual(['a']);
    expect(b.hasStarted() || c.hasStarted()).toBe(false);
  });

  it('an idle() waiter registered before drainQueue resolves when the running job ends', async () => {
    const { job, order } = controlledJobs();
    const s = new WorkScheduler(1, 10);
    const a = job('a');
    s.submit(a);
    s.submit(job('b'));
    s.submit(job('c'));
    let idle = false;
    const waiting = s.idle().then(() => {
      idle = true;
    });
    expect(s.drainQueue()).toHaveLength(2);
    await settle();
    expect(idle).toBe(false);
    a.finish();
    await waiting;
    expect(order).toEqual(['a']);
    expect(new WorkScheduler(1, 1).drainQueue()).toEqual([]);
  });
});
