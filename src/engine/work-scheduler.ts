import { AgentdError } from '../errors.js';

/** A unit of work the scheduler runs; `cancel` drops it if it has not started. */
export interface ScheduledJob {
  readonly id: string;
  run(): Promise<void>;
}

/**
 * Per-process concurrency limit with a bounded FIFO queue behind it
 * (`MAX_CONCURRENT_WORKFLOWS`, `execution.maxQueueDepth`). Beyond the queue depth a
 * submission fails with the retryable `QUEUE_FULL` error instead of piling up memory.
 */
export class WorkScheduler {
  private active = 0;
  private readonly queue = new Map<string, ScheduledJob>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueueDepth: number,
  ) {}

  /** Whether a submission right now would be accepted. */
  hasCapacity(): boolean {
    return this.active < this.maxConcurrent || this.queue.size < this.maxQueueDepth;
  }

  /** Starts the job now, or queues it; throws QUEUE_FULL when the queue is at its depth. */
  submit(job: ScheduledJob): void {
    if (this.active < this.maxConcurrent) {
      this.start(job);
      return;
    }
    if (this.queue.size >= this.maxQueueDepth) {
      throw new AgentdError(
        'QUEUE_FULL',
        `All ${this.maxConcurrent} workers are busy and ${this.queue.size} tasks are queued; retry later`,
      );
    }
    this.queue.set(job.id, job);
  }

  /** Removes a job that is still waiting; returns whether it was queued. */
  cancelQueued(id: string): boolean {
    return this.queue.delete(id);
  }

  /** Tasks executing now. */
  get running(): number {
    return this.active;
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.queue.size;
  }

  /** Resolves when nothing is running or queued. */
  idle(): Promise<void> {
    if (this.active === 0 && this.queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Empties the queue and returns the jobs that never started. */
  drainQueue(): ScheduledJob[] {
    const jobs = [...this.queue.values()];
    this.queue.clear();
    this.notifyIfIdle();
    return jobs;
  }

  private start(job: ScheduledJob): void {
    this.active++;
    // run() never rejects: the engine turns executor failures into FAILED tasks.
    void job.run().finally(() => {
      this.active--;
      const next = this.queue.values().next();
      if (!next.done) {
        this.queue.delete(next.value.id);
        this.start(next.value);
      } else {
        this.notifyIfIdle();
      }
    });
  }

  private notifyIfIdle(): void {
    if (this.active !== 0 || this.queue.size !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
