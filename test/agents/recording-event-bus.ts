/**
 * An `ExecutionEventBus` (the SDK interface executors publish to) that records every
 * event, honours listeners like the SDK's own bus, and lets a test await the moment a
 * matching event is published instead of sleeping.
 */
import type { Message, SendMessageRequest, Task, TaskState } from '@a2a-js/sdk';
import {
  RequestContext,
  ServerCallContext,
  type AgentExecutionEvent,
  type EventListener,
  type ExecutionEventBus,
  type ExecutionEventName,
  type FinishedListener,
} from '@a2a-js/sdk/server';
import { applyArtifactUpdate, applyStatusUpdate } from '../../src/engine/reducer.js';
import { userMessage as sdkUserMessage } from '../helpers/sdk-client.js';

interface Waiter {
  readonly predicate: (event: AgentExecutionEvent, index: number) => boolean;
  readonly resolve: (event: AgentExecutionEvent) => void;
}

export class RecordingEventBus implements ExecutionEventBus {
  readonly events: AgentExecutionEvent[] = [];
  finishedCount = 0;
  private readonly listeners = { event: new Set<EventListener>(), finished: new Set<FinishedListener>() };
  private waiters: Waiter[] = [];

  publish(event: AgentExecutionEvent): void {
    this.events.push(event);
    for (const l of [...this.listeners.event]) l(event);
    const index = this.events.length - 1;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) {
      if (w.predicate(event, index)) w.resolve(event);
      else this.waiters.push(w);
    }
  }

  finished(): void {
    this.finishedCount++;
    for (const l of [...this.listeners.finished]) l();
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

  /** Resolves with the first event (already published or future) that matches. */
  waitFor(predicate: (event: AgentExecutionEvent, index: number) => boolean): Promise<AgentExecutionEvent> {
    const seen = this.events.findIndex((e, i) => predicate(e, i));
    if (seen >= 0) return Promise.resolve(this.events[seen] as AgentExecutionEvent);
    return new Promise((resolve) => this.waiters.push({ predicate, resolve }));
  }

  /** Resolves when the n-th (1-based) artifact update is published. */
  nthArtifact(n: number): Promise<AgentExecutionEvent> {
    let count = 0;
    return this.waitFor((e) => e.kind === 'artifactUpdate' && ++count === n);
  }

  get statusStates(): TaskState[] {
    return this.events.flatMap((e) =>
      e.kind === 'statusUpdate' && e.data.status ? [e.data.status.state] : [],
    );
  }

  get statusTexts(): string[] {
    return this.events.flatMap((e) =>
      e.kind === 'statusUpdate' && e.data.status?.message ? [textOf(e.data.status.message)] : [],
    );
  }

  get artifactUpdates(): Array<Extract<AgentExecutionEvent, { kind: 'artifactUpdate' }>['data']> {
    return this.events.flatMap((e) => (e.kind === 'artifactUpdate' ? [e.data] : []));
  }

  /** Folds the recorded events into `task` with the engine's reducer. */
  foldInto(task: Task): Task {
    let t = task;
    for (const e of this.events) {
      if (e.kind === 'statusUpdate') t = applyStatusUpdate(t, e.data, new Date().toISOString());
      else if (e.kind === 'artifactUpdate') t = applyArtifactUpdate(t, e.data);
    }
    return t;
  }
}

export function textOf(message: Message | undefined): string {
  return (message?.parts ?? []).map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join('');
}

/** A user message in the fixed context and task these agent tests use. */
export function userMessage(text: string, extra: Partial<Message> = {}): Message {
  return sdkUserMessage(text, { contextId: 'ctx-1', taskId: 'task-1', ...extra });
}

export function request(message: Message): SendMessageRequest {
  return {
    tenant: '',
    message,
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: undefined,
      returnImmediately: false,
    },
    metadata: undefined,
  };
}

/** A plain SDK RequestContext, as any A2A server would build it. */
export function requestContext(message: Message, task?: Task): RequestContext {
  return new RequestContext(
    request(message),
    message.taskId,
    message.contextId,
    new ServerCallContext(),
    task,
  );
}

/** A task snapshot in `state` for `message`, as the engine would hand to a follow-up. */
export function taskFor(message: Message, state: TaskState): Task {
  return {
    id: message.taskId,
    contextId: message.contextId,
    status: { state, message: undefined, timestamp: new Date().toISOString() },
    artifacts: [],
    history: [message],
    metadata: undefined,
  };
}
