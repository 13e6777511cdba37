import type {
  AgentExecutionEvent,
  EventListener,
  ExecutionEventBus,
  ExecutionEventName,
  FinishedListener,
} from '@a2a-js/sdk/server';
import type { TaskRun } from './task-run.js';

/**
 * The `ExecutionEventBus` an SDK executor publishes to. `publish` hands the event to the
 * run; listeners registered by the executor itself are honoured too.
 */
export class RunEventBus implements ExecutionEventBus {
  // Few executors listen on their own bus; the sets are real so those that do are served.
  private readonly listeners = { event: new Set<EventListener>(), finished: new Set<FinishedListener>() };

  constructor(private readonly run: TaskRun) {}

  publish(event: AgentExecutionEvent): void {
    // What an agent publishes is checked before the run applies it (see agent-events.ts).
    // Only what the run accepted reaches the executor's own listeners.
    if (this.run.publish(event) && this.listeners.event.size > 0)
      for (const l of this.listeners.event) l(event);
  }

  finished(): void {
    for (const l of this.listeners.finished) l();
  }

  on(eventName: 'event', listener: EventListener): this;
  on(eventName: 'finished', listener: FinishedListener): this;
  on(eventName: ExecutionEventName, listener: EventListener | FinishedListener): this {
    (this.listeners[eventName] as Set<typeof listener>).add(listener);
    return this;
  }

  off(eventName: 'event', listener: EventListener): this;
  off(eventName: 'finished', listener: FinishedListener): this;
  off(eventName: ExecutionEventName, listener: EventListener | FinishedListener): this {
    (this.listeners[eventName] as Set<typeof listener>).delete(listener);
    return this;
  }

  once(eventName: 'event', listener: EventListener): this;
  once(eventName: 'finished', listener: FinishedListener): this;
  once(eventName: ExecutionEventName, listener: EventListener | FinishedListener): this {
    const set = this.listeners[eventName] as Set<(...args: unknown[]) => void>;
    const wrapped = (...args: unknown[]): void => {
      set.delete(wrapped);
      (listener as (...a: unknown[]) => void)(...args);
    };
    set.add(wrapped);
    return this;
  }

  removeAllListeners(eventName?: ExecutionEventName): this {
    if (eventName) this.listeners[eventName].clear();
    else {
      this.listeners.event.clear();
      this.listeners.finished.clear();
    }
    return this;
  }
}
