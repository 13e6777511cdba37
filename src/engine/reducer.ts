/**
 * The task reducer: pure functions that fold one agent event into a task snapshot. They
 * never mutate their input, so a snapshot handed to a reader stays consistent with the
 * event-log cursor it was read at.
 */
import type {
  Artifact,
  Message,
  StreamResponse,
  Task,
  TaskArtifactUpdateEvent,
  TaskStatus,
  TaskStatusUpdateEvent,
} from '@a2a-js/sdk';

/** Applies a status update; an agent's status message also joins the history. */
export function applyStatusUpdate(task: Task, update: TaskStatusUpdateEvent, now: string): Task {
  const status = withTimestamp(update.status, now);
  const message = status.message;
  const history =
    message && !hasMessage(task.history, message.messageId) ? [...task.history, message] : task.history;
  return {
    ...task,
    status,
    history,
    metadata: update.metadata ? { ...task.metadata, ...update.metadata } : task.metadata,
  };
}

/**
 * Applies an artifact update: `append` adds the parts to the artifact with the same id
 * (creating it if it is new); otherwise the artifact replaces any with the same id.
 */
export function applyArtifactUpdate(task: Task, update: TaskArtifactUpdateEvent): Task {
  const incoming = update.artifact;
  if (!incoming) return task;
  const index = task.artifacts.findIndex((a) => a.artifactId === incoming.artifactId);
  const artifacts = [...task.artifacts];
  const existing = index >= 0 ? artifacts[index] : undefined;
  if (existing && update.append) {
    artifacts[index] = mergeArtifact(existing, incoming);
  } else if (index >= 0) {
    artifacts[index] = incoming;
  } else {
    artifacts.push(incoming);
  }
  return { ...task, artifacts };
}

/** Appends a message to the history unless one with the same id is already there. */
export function appendHistory(task: Task, message: Message): Task {
  if (hasMessage(task.history, message.messageId)) return task;
  return { ...task, history: [...task.history, message] };
}

/**
 * Folds a full `task` event published by an executor (the SDK's "first event" pattern)
 * into the engine's snapshot: its status and metadata win, its artifacts and history are
 * merged by id. Returns what changed so the engine can log it as update events.
 */
export function mergeTaskEvent(
  task: Task,
  incoming: Task,
  now: string,
): { task: Task; statusChanged: boolean; artifacts: Artifact[] } {
  let next: Task = {
    ...task,
    metadata: incoming.metadata ? { ...task.metadata, ...incoming.metadata } : task.metadata,
  };
  let statusChanged = false;
  if (incoming.status && incoming.status.state !== task.status?.state) {
    next = { ...next, status: withTimestamp(incoming.status, now) };
    statusChanged = true;
  }
  for (const m of incoming.history) next = appendHistory(next, m);
  const artifacts: Artifact[] = [];
  for (const a of incoming.artifacts) {
    if (!next.artifacts.some((x) => x.artifactId === a.artifactId)) {
      next = { ...next, artifacts: [...next.artifacts, a] };
      artifacts.push(a);
    }
  }
  return { task: next, statusChanged, artifacts };
}

/**
 * A2A `historyLength` semantics: undefined → all, 0 → none, N → the last N messages.
 * Returns the same object when nothing is cut.
 */
export function limitHistory(task: Task, historyLength: number | undefined): Task {
  if (historyLength === undefined || task.history.length <= historyLength) return task;
  return { ...task, history: historyLength === 0 ? [] : task.history.slice(-historyLength) };
}

function mergeArtifact(existing: Artifact, chunk: Artifact): Artifact {
  return {
    ...existing,
    name: chunk.name || existing.name,
    description: chunk.description || existing.description,
    parts: [...existing.parts, ...chunk.parts],
    metadata: chunk.metadata ? { ...existing.metadata, ...chunk.metadata } : existing.metadata,
    extensions: chunk.extensions.length > 0 ? chunk.extensions : existing.extensions,
  };
}

function withTimestamp(status: TaskStatus | undefined, now: string): TaskStatus {
  if (!status) return { state: 0, message: undefined, timestamp: now };
  return status.timestamp ? status : { ...status, timestamp: now };
}

function hasMessage(history: Message[], messageId: string): boolean {
  if (!messageId) return false;
  for (let i = history.length - 1; i >= 0; i--) if (history[i]?.messageId === messageId) return true;
  return false;
}

/**
 * Folds one logged stream event into a snapshot: how a replica that did not run the task
 * rebuilds it from the event log (a takeover after a crash, a caller waiting on a task
 * another replica runs). A `task` event is the snapshot itself; a direct `message` reply
 * leaves the task as it is.
 */
export function applyStreamEvent(task: Task, event: StreamResponse): Task {
  const p = event.payload;
  switch (p?.$case) {
    case 'task':
      return p.value;
    case 'statusUpdate':
      return applyStatusUpdate(task, p.value, p.value.status?.timestamp ?? '');
    case 'artifactUpdate':
      return applyArtifactUpdate(task, p.value);
    default:
      return task;
  }
}
