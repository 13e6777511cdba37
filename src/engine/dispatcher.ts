/**
 * Takes queued work into this replica's free worker slots: when told that work waits
 * (pushed here or on another replica, handed back, taken over), when a slot frees up, and
 * on a slow poll in case a notification was missed.
 */
import { isAgentdError } from '../errors.js';
import type { WorkItem } from '../store/ports.js';
import type { EngineCore } from './engine-core.js';
import { WorkerSlots, type WorkerSlot } from './worker-slots.js';

export class Dispatcher {
  readonly slots: WorkerSlots;
  private pumping = false;
  private pumpAgain = false;
  /** Another replica (or this one) announced queued work since the last take. */
  private workSignaled = false;
  private idleWaiters: Array<() => void> = [];
  private readonly poller: NodeJS.Timeout;

  /** `run` starts a taken task in the slot given to it (and releases the slot when done). */
  constructor(
    private readonly core: EngineCore,
    private readonly run: (item: WorkItem, slot: WorkerSlot) => Promise<void>,
  ) {
    this.slots = new WorkerSlots(core.options.maxConcurrent, () => this.slotFreed());
    core.store.queue.onWork(() => {
      this.workSignaled = true;
      this.pump();
    });
    this.poller = setInterval(() => this.pump(), core.options.pollMs ?? 2000);
    this.poller.unref();
  }

  /** Takes queued work into this replica's free worker slots. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    const { store, agents } = this.core;
    // A draining replica leaves durable work to the others; the embedded store finishes its queue.
    if (!this.core.isAccepting && store.queue.durable) return;
    const free = this.slots.free;
    if (free <= 0 || agents.size === 0) return;
    this.pumping = true;
    this.workSignaled = false;
    // Slots are not reserved during the take, so requests arriving meanwhile still run at
    // once; a task taken when no slot is left any more goes back to the head of the queue,
    // its attempt not counted (it never ran).
    store.queue
      .take([...agents.keys()], free)
      .then(
        (items) => {
          for (const item of items) {
            const slot = this.slots.tryAcquire();
            if (slot) {
              void this.run(item, slot);
            } else {
              void store.queue.requeue(item.taskId, false).catch((error: unknown) => {
                this.core.logger.warn(
                  { err: error, task_id: item.taskId },
                  'could not hand back a task; its lease will lapse',
                );
              });
            }
          }
        },
        (error: unknown) => {
          // A Redis outage is logged once by the store; here it would repeat every poll.
          const unavailable = isAgentdError(error, 'STORE_UNAVAILABLE');
          this.core.logger[unavailable ? 'debug' : 'warn'](
            { err: error },
            'could not take queued work; retrying',
          );
        },
      )
      .finally(() => {
        this.pumping = false;
        this.notifyIdle();
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  /** Resolves when this replica runs nothing (and, on the embedded store, nothing waits). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops the poll (shutdown). */
  stop(): void {
    clearInterval(this.poller);
  }

  private slotFreed(): void {
    if (this.workSignaled || this.core.store.queue.waiting > 0) this.pump();
    this.notifyIdle();
  }

  private isIdle(): boolean {
    const queue = this.core.store.queue;
    return this.slots.inUse === 0 && (queue.durable || queue.waiting === 0);
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
