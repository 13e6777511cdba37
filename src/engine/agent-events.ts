/**
 * Validation of what an executor publishes on its event bus. An agent is code the engine
 * does not control: an event of the wrong shape must fail its own task with a message that
 * says what was wrong, never reach the reducer (where it would throw) or the store (where
 * it could not be serialised). Pure; measured per event, so it walks each value once.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { AgentExecutionEvent } from '@a2a-js/sdk/server';

/** The byte budgets and nesting limit an event is checked against. */
export interface EventLimits {
  /** Nesting depth of metadata and data-part values. */
  readonly maxDepth: number;
  /** Approximate encoded size of one event (strings as UTF-16 code units, bytes as base64). */
  readonly maxEventBytes: number;
}

/** What an accepted event weighs, for the task's own byte budget. */
export interface CheckedEvent {
  readonly event: AgentExecutionEvent;
  readonly bytes: number;
}

const KINDS = new Set(['task', 'message', 'statusUpdate', 'artifactUpdate']);
const V03_KINDS = new Set(['status-update', 'artifact-update']);
const STATES = new Set(
  Object.values(TaskState).filter((v): v is TaskState => typeof v === 'number' && v >= 0),
);
const ROLES = new Set(Object.values(Role).filter((v): v is Role => typeof v === 'number' && v >= 0));

/** Thrown inside the walk; the message names the field. */
class EventProblem extends Error {}

/**
 * The event, with its approximate size, or a message saying what is wrong with it (which
 * field, and what was expected).
 */
export function checkAgentEvent(event: unknown, limits: EventLimits): CheckedEvent | string {
  try {
    const walk = new Walk(limits);
    walk.event(event);
    if (walk.bytes > limits.maxEventBytes) {
      return `the event is about ${walk.bytes} bytes, more than the ${limits.maxEventBytes}-byte limit per event`;
    }
    return { event: event as AgentExecutionEvent, bytes: walk.bytes };
  } catch (error) {
    if (error instanceof EventProblem) return error.message;
    throw error;
  }
}

/**
 * Why `value` is not a JSON value agentd can store (a cycle, a function, a bigint, a
 * non-finite number, nesting past `maxDepth`), naming where under `at`; undefined when fine.
 */
export function jsonValueProblem(value: unknown, at: string, maxDepth: number): string | undefined {
  try {
    new Walk({ maxDepth, maxEventBytes: Number.POSITIVE_INFINITY }).json(value, at, 0);
    return undefined;
  } catch (error) {
    if (error instanceof EventProblem) return error.message;
    throw error;
  }
}

class Walk {
  bytes = 0;

  constructor(private readonly limits: EventLimits) {}

  event(event: unknown): void {
    if (!isObject(event)) throw new EventProblem(`expected an event object, got ${typeName(event)}`);
    const kind = event.kind;
    if (typeof kind !== 'string' || !KINDS.has(kind)) {
      if (typeof kind === 'string' && V03_KINDS.has(kind)) throw new EventProblem(v03(kind));
      throw new EventProblem(
        `event.kind must be one of task, message, statusUpdate, artifactUpdate (got ${describeValue(kind)})`,
      );
    }
    const data = event.data;
    if (!isObject(data)) {
      // The plain-object shape of v0.3 samples: the fields sit on the event itself.
      if (data === undefined && ('id' in event || 'messageId' in event || 'status' in event))
        throw new EventProblem(v03(kind));
      throw new EventProblem(`event.data must be an object (got ${typeName(data)})`);
    }
    switch (kind) {
      case 'task':
        this.task(data, 'data');
        return;
      case 'message':
        this.message(data, 'data');
        return;
      case 'statusUpdate':
        this.ids(data, 'data', ['taskId', 'contextId']);
        if (!isObject(data.status))
          throw new EventProblem(`data.status must be an object (got ${typeName(data.status)})`);
        this.status(data.status, 'data.status');
        this.metadata(data.metadata, 'data.metadata');
        return;
      case 'artifactUpdate':
        this.ids(data, 'data', ['taskId', 'contextId']);
        this.artifact(data.artifact, 'data.artifact');
        optional(data, 'data', 'append', 'boolean');
        optional(data, 'data', 'lastChunk', 'boolean');
        this.metadata(data.metadata, 'data.metadata');
        return;
    }
  }

  private task(task: Record<string, unknown>, at: string): void {
    this.ids(task, at, ['id', 'contextId']);
    if (task.status !== undefined) {
      if (!isObject(task.status))
        throw new EventProblem(`${at}.status must be an object (got ${typeName(task.status)})`);
      this.status(task.status, `${at}.status`);
    }
    this.list(task.artifacts, `${at}.artifacts`, (a, path) => this.artifact(a, path));
    this.list(task.history, `${at}.history`, (m, path) => {
      if (!isObject(m)) throw new EventProblem(`${path} must be a Message object (got ${typeName(m)})`);
      this.message(m, path);
    });
    this.metadata(task.metadata, `${at}.metadata`);
  }

  private status(status: Record<string, unknown>, at: string): void {
    const state = status.state;
    if (typeof state !== 'number' || !STATES.has(state)) {
      throw new EventProblem(
        `${at}.state must be a TaskState value such as TaskState.TASK_STATE_COMPLETED (got ${describeValue(state)})`,
      );
    }
    if (status.message !== undefined) {
      if (!isObject(status.message))
        throw new EventProblem(`${at}.message must be a Message object (got ${typeName(status.message)})`);
      this.message(status.message, `${at}.message`);
    }
    optional(status, at, 'timestamp', 'string');
  }

  private message(message: Record<string, unknown>, at: string): void {
    this.ids(message, at, ['messageId', 'taskId', 'contextId']);
    if (message.role !== undefined && (typeof message.role !== 'number' || !ROLES.has(message.role))) {
      throw new EventProblem(
        `${at}.role must be Role.ROLE_AGENT or Role.ROLE_USER (got ${describeValue(message.role)})`,
      );
    }
    this.parts(message.parts, `${at}.parts`);
    this.metadata(message.metadata, `${at}.metadata`);
  }

  private artifact(artifact: unknown, at: string): void {
    if (!isObject(artifact))
      throw new EventProblem(`${at} must be an Artifact object (got ${typeName(artifact)})`);
    this.ids(artifact, at, ['artifactId', 'name', 'description']);
    this.parts(artifact.parts, `${at}.parts`);
    this.metadata(artifact.metadata, `${at}.metadata`);
  }

  private parts(parts: unknown, at: string): void {
    if (!Array.isArray(parts))
      throw new EventProblem(`${at} must be an array of parts (got ${typeName(parts)})`);
    parts.forEach((part: unknown, i) => {
      const path = `${at}[${i}]`;
      if (!isObject(part)) throw new EventProblem(`${path} must be a Part object (got ${typeName(part)})`);
      const content = part.content;
      if (!isObject(content)) {
        if ('kind' in part || 'text' in part)
          throw new EventProblem(
            `${path} is a v0.3 part ({kind, text}); a v1.0 part is {content: {$case: 'text', value}}`,
          );
        throw new EventProblem(`${path}.content must be {$case, value} (got ${typeName(content)})`);
      }
      const value = content.value;
      switch (content.$case) {
        case 'text':
        case 'url':
          if (typeof value !== 'string')
            throw new EventProblem(`${path}.content.value must be a string (got ${typeName(value)})`);
          this.bytes += value.length;
          break;
        case 'raw':
          if (!(value instanceof Uint8Array))
            throw new EventProblem(
              `${path}.content.value must be a Buffer or Uint8Array (got ${typeName(value)})`,
            );
          this.bytes += Math.ceil(value.byteLength / 3) * 4;
          break;
        case 'data':
          this.json(value, `${path}.content.value`, 0);
          break;
        default:
          throw new EventProblem(
            `${path}.content.$case must be text, raw, url or data (got ${describeValue(content.$case)})`,
          );
      }
      optional(part, path, 'filename', 'string');
      optional(part, path, 'mediaType', 'string');
      this.metadata(part.metadata, `${path}.metadata`);
    });
  }

  private metadata(value: unknown, at: string): void {
    if (value === undefined) return;
    if (!isObject(value)) throw new EventProblem(`${at} must be an object (got ${typeName(value)})`);
    this.json(value, at, 0);
  }

  /** A JSON value: no cycles, functions, bigints or non-finite numbers, at most `maxDepth` deep. */
  json(value: unknown, at: string, depth: number): void {
    if (value === null || typeof value === 'boolean') {
      this.bytes += 5;
      return;
    }
    if (typeof value === 'string') {
      this.bytes += value.length + 2;
      return;
    }
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new EventProblem(`${at} is ${value}, which JSON cannot represent`);
      this.bytes += 8;
      return;
    }
    if (typeof value !== 'object')
      throw new EventProblem(`${at} is a ${typeof value}, which JSON cannot represent`);
    if (depth >= this.limits.maxDepth)
      throw new EventProblem(`${at} is nested more than ${this.limits.maxDepth} levels deep`);
    if (Array.isArray(value)) {
      value.forEach((v: unknown, i) => this.json(v, `${at}[${i}]`, depth + 1));
      this.bytes += 2 + value.length;
      return;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new EventProblem(`${at} must be a plain object`);
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      this.bytes += k.length + 4;
      this.json(v, `${at}.${k}`, depth + 1);
    }
  }

  private ids(obj: Record<string, unknown>, at: string, keys: readonly string[]): void {
    for (const key of keys) {
      const v = obj[key];
      if (v === undefined) continue;
      if (typeof v !== 'string') throw new EventProblem(`${at}.${key} must be a string (got ${typeName(v)})`);
      this.bytes += v.length;
    }
  }

  private list(value: unknown, at: string, each: (item: unknown, path: string) => void): void {
    if (value === undefined) return;
    if (!Array.isArray(value)) throw new EventProblem(`${at} must be an array (got ${typeName(value)})`);
    value.forEach((item: unknown, i) => each(item, `${at}[${i}]`));
  }
}

function optional(obj: Record<string, unknown>, at: string, key: string, type: 'string' | 'boolean'): void {
  const v = obj[key];
  if (v !== undefined && typeof v !== type)
    throw new EventProblem(`${at}.${key} must be a ${type} (got ${typeName(v)})`);
}

function v03(kind: string): string {
  return (
    `the event has the v0.3 plain-object shape ({kind: '${kind}', id, ...}); ` +
    `agents on @a2a-js/sdk 1.x publish {kind: 'task' | 'message' | 'statusUpdate' | 'artifactUpdate', data: ...}`
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeName(value);
}
