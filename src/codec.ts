/**
 * Proto JSON of the A2A objects agentd writes most, memoized per object. Snapshots are
 * immutable (the reducer never mutates a task), so one task object has one JSON: a task
 * written to the store, logged as an event and sent to the client is encoded once.
 */
import { StreamResponse, Task } from '@a2a-js/sdk';

const tasks = new WeakMap<Task, unknown>();

/** `Task.toJSON(task)`, computed once per task object. */
export function taskJson(task: Task): unknown {
  let json = tasks.get(task);
  if (json === undefined) {
    json = Task.toJSON(task);
    tasks.set(task, json);
  }
  return json;
}

/** `StreamResponse.toJSON(event)`, reusing the task's memoized JSON for a task event. */
export function streamResponseJson(event: StreamResponse): unknown {
  const p = event.payload;
  return p?.$case === 'task' ? { task: taskJson(p.value) } : StreamResponse.toJSON(event);
}
