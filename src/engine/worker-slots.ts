/**
 * The worker slots of one replica (`MAX_CONCURRENT_WORKFLOWS`). A slot is a handle that is
 * released once, by construction: releasing it again does nothing, so no path can free a
 * slot twice or leak the count.
 *
 * A run that waits on other tasks (a workflow step, a durable `call()`) lends its slot
 * while it waits ({@link WorkerSlot.lendWhile}): the children it waits for can then run
 * here even when every slot is held by a waiting parent, so parents cannot deadlock their
 * own children. When the wait ends the run takes a slot back before it goes on, ahead of
 * queued work (it was admitted first, and finishing it frees the slot for good).
 */
export interface WorkerSlot {
  /** Frees the slot (idempotent). A slot lent out is not taken back after this. */
  release(): void;
  /**
   * Runs `wait` with the slot lent out (freed for others) and resolves once the run holds a
   * slot again. Nested and parallel waits share one loan: the slot is freed when the first
   * starts and taken back when the last ends.
   */
  lendWhile<T>(wait: () => Promise<T>): Promise<T>;
}

export class WorkerSlots {
  private used = 0;
  /** Runs taking their slot back after a wait, served before queued work. */
  private returning: Array<() => void> = [];

  /** `onFree` runs after each slot is freed (queued work may fit now). */
  constructor(
    private readonly max: number,
    private readonly onFree: () => void,
  ) {}

  /** Slots in use. */
  get inUse(): number {
    return this.used;
  }

  /** Slots free now (none while a lending run waits to take one back). */
  get free(): number {
    return this.returning.length > 0 ? 0 : this.max - this.used;
  }

  /** A slot, or undefined when all are in use. Synchronous, so concurrent callers cannot overbook. */
  tryAcquire(): WorkerSlot | undefined {
    if (this.used >= this.max || this.returning.length > 0) return undefined;
    this.used++;
    return this.handle();
  }

  private handle(): WorkerSlot {
    let held = true;
    let released = false;
    let loans = 0;
    let back: Promise<void> | undefined;
    const free = (): void => {
      const next = this.returning.shift();
      if (next)
        next(); // the slot passes straight to a run taking one back
      else {
        this.used--;
        this.onFree();
      }
    };
    const takeBack = (): Promise<void> => {
      if (this.used < this.max) {
        this.used++;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => this.returning.push(resolve));
    };
    return {
      release: () => {
        if (released) return;
        released = true;
        if (held) {
          held = false;
          free();
        }
      },
      lendWhile: async <T>(wait: () => Promise<T>): Promise<T> => {
        if (back) await back; // a loan that just ended: hold the slot again first
        if (loans++ === 0 && held && !released) {
          held = false;
          free();
        }
        try {
          return await wait();
        } finally {
          if (--loans === 0 && !released) {
            back = takeBack().then(() => {
              back = undefined;
              if (released)
                free(); // released while taking it back: hand it on at once
              else held = true;
            });
            await back;
          }
        }
      },
    };
  }
}
