/**
 * Proto JSON of the A2A objects agentd writes most, memoized per object. Snapshots are
 * immutable (the reducer never mutates a task), so one task object has one JSON: a task
 * written to the store, logged as an event and sent to the client is encoded once.
 */
import { StreamResponse, Task } from '@a2a-js/sdk';

const tasks = new WeakMap<Task, unknown>();
const texts = new WeakMap<Task, string>();

/** `Task.toJSON(task)`, computed once per task object. */
export function taskJson(task: Task): unknown {
  let json = tasks.get(task);
  if (json === undefined) {
    json = Task.toJSON(task);
    tasks.set(task, json);
  }
  return json;
}

/** `JSON.stringify(Task.toJSON(task))`, computed once per task object. */
export function taskJsonText(task: Task): string {
  let text = texts.get(task);
  if (text === undefined) {
    text = JSON.stringify(taskJson(task));
    texts.set(task, text);
  }
  return text;
}

/** `JSON.stringify(StreamResponse.toJSON(event))`, reusing the task's text for a task event. */
export function streamResponseJsonText(event: StreamResponse): string {
  const p = event.payload;
  return p?.$case === 'task'
    ? `{"task":${taskJsonText(p.value)}}`
    : JSON.stringify(StreamResponse.toJSON(event));
}
