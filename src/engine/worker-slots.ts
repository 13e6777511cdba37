/**
 * The worker slots of one replica (`MAX_CONCURRENT_WORKFLOWS`). A slot is a handle that is
 * released once, by construction: releasing it again does nothing, so no path can free a
 * slot twice or leak the count.
 */
export interface WorkerSlot {
  /** Frees the slot (idempotent). */
  release(): void;
}

export class WorkerSlots {
  private used = 0;

  /** `onFree` runs after each slot is freed (queued work may fit now). */
  constructor(
    private readonly max: number,
    private readonly onFree: () => void,
  ) {}

  /** Slots in use. */
  get inUse(): number {
    return this.used;
  }

  /** Slots free now. */
  get free(): number {
    return this.max - this.used;
  }

  /** A slot, or undefined when all are in use. Synchronous, so concurrent callers cannot overbook. */
  tryAcquire(): WorkerSlot | undefined {
    if (this.used >= this.max) return undefined;
    this.used++;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.used--;
        this.onFree();
      },
    };
  }
}
