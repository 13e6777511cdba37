import { Role, TaskState } from '@a2a-js/sdk';
import type {
  Artifact,
  Message,
  Part,
  Task,
  TaskArtifactUpdateEvent,
  TaskStatusUpdateEvent,
} from '@a2a-js/sdk';
import { describe, expect, it } from 'vitest';
import {
  appendHistory,
  applyArtifactUpdate,
  applyStatusUpdate,
  limitHistory,
  mergeTaskEvent,
} from '../../src/engine/reducer.js';

const NOW = '2030-01-02T03:04:05.000Z';

function text(value: string): Part {
  return { content: { $case: 'text', value }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

function msg(id: string, body = id, role = Role.ROLE_USER): Message {
  return {
    messageId: id,
    contextId: 'ctx',
    taskId: 't1',
    role,
    parts: [text(body)],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function artifact(id: string, parts: string[], extra: Partial<Artifact> = {}): Artifact {
  return {
    artifactId: id,
    name: id,
    description: '',
    parts: parts.map(text),
    metadata: undefined,
    extensions: [],
    ...extra,
  };
}

function task(extra: Partial<Task> = {}): Task {
  return {
    id: 't1',
    contextId: 'ctx',
    status: {
      state: TaskState.TASK_STATE_SUBMITTED,
      message: undefined,
      timestamp: '2030-01-01T00:00:00.000Z',
    },
    artifacts: [],
    history: [msg('u1')],
    metadata: undefined,
    ...extra,
  };
}

function statusUpdate(
  state: TaskState,
  message?: Message,
  extra: Partial<TaskStatusUpdateEvent> = {},
): TaskStatusUpdateEvent {
  return {
    taskId: 't1',
    contextId: 'ctx',
    status: { state, message, timestamp: undefined },
    metadata: undefined,
    ...extra,
  };
}

function artifactUpdate(a: Artifact | undefined, append: boolean): TaskArtifactUpdateEvent {
  return { taskId: 't1', contextId: 'ctx', artifact: a, append, lastChunk: false, metadata: undefined };
}

/** Freezes an object graph so any mutation throws (ES modules run in strict mode). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

function textsOf(a: Artifact | undefined): string[] {
  return (a?.parts ?? []).map((p) => (p.content?.$case === 'text' ? p.content.value : '?'));
}

describe('applyStatusUpdate', () => {
  it('sets the status, stamping the timestamp when the update has none', () => {
    const next = applyStatusUpdate(task(), statusUpdate(TaskState.TASK_STATE_WORKING), NOW);
    expect(next.status).toEqual({ state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: NOW });
  });

  it('keeps a timestamp the update already carries', () => {
    const update = statusUpdate(TaskState.TASK_STATE_WORKING);
    const stamped = {
      ...update,
      status: {
        state: TaskState.TASK_STATE_WORKING,
        message: undefined,
        timestamp: '2031-05-05T00:00:00.000Z',
      },
    };
    expect(applyStatusUpdate(task(), stamped, NOW).status?.timestamp).toBe('2031-05-05T00:00:00.000Z');
  });

  it('adds the status message to the history exactly once', () => {
    const agentMsg = msg('a1', 'working on it', Role.ROLE_AGENT);
    const update = statusUpdate(TaskState.TASK_STATE_WORKING, agentMsg);
    const once = applyStatusUpdate(task(), update, NOW);
    expect(once.history.map((m) => m.messageId)).toEqual(['u1', 'a1']);
    const twice = applyStatusUpdate(once, update, NOW);
    expect(twice.history.map((m) => m.messageId)).toEqual(['u1', 'a1']);
    expect(twice.status?.message?.messageId).toBe('a1');
  });

  it('leaves the history alone when the status has no message', () => {
    const before = task();
    const next = applyStatusUpdate(before, statusUpdate(TaskState.TASK_STATE_WORKING), NOW);
    expect(next.history).toBe(before.history);
  });

  it('merges update metadata into the task metadata', () => {
    const before = task({ metadata: { a: 1, b: 1 } });
    const next = applyStatusUpdate(
      before,
      statusUpdate(TaskState.TASK_STATE_WORKING, undefined, { metadata: { b: 2, c: 3 } }),
      NOW,
    );
    expect(next.metadata).toEqual({ a: 1, b: 2, c: 3 });
    const unchanged = applyStatusUpdate(before, statusUpdate(TaskState.TASK_STATE_WORKING), NOW);
    expect(unchanged.metadata).toEqual({ a: 1, b: 1 });
  });
});

describe('applyArtifactUpdate', () => {
  it('appends a new artifact id after the existing ones', () => {
    const before = task({ artifacts: [artifact('a', ['1'])] });
    const next = applyArtifactUpdate(before, artifactUpdate(artifact('b', ['x']), false));
    expect(next.artifacts.map((a) => a.artifactId)).toEqual(['a', 'b']);
  });

  it('creates the artifact when append is set but the id is new', () => {
    const next = applyArtifactUpdate(task(), artifactUpdate(artifact('a', ['1']), true));
    expect(next.artifacts).toHaveLength(1);
    expect(textsOf(next.artifacts[0])).toEqual(['1']);
  });

  it('append concatenates the parts of the artifact with the same id, in place', () => {
    const before = task({ artifacts: [artifact('a', ['1']), artifact('b', ['x'])] });
    const step1 = applyArtifactUpdate(before, artifactUpdate(artifact('a', ['2']), true));
    const step2 = applyArtifactUpdate(step1, artifactUpdate(artifact('a', ['3', '4']), true));
    expect(step2.artifacts.map((a) => a.artifactId)).toEqual(['a', 'b']);
    expect(textsOf(step2.artifacts[0])).toEqual(['1', '2', '3', '4']);
    expect(textsOf(step2.artifacts[1])).toEqual(['x']);
  });

  it('append keeps the existing name when the chunk has none and merges metadata', () => {
    const before = task({ artifacts: [artifact('a', ['1'], { name: 'first', metadata: { k: 1 } })] });
    const next = applyArtifactUpdate(
      before,
      artifactUpdate(artifact('a', ['2'], { name: '', metadata: { j: 2 } }), true),
    );
    expect(next.artifacts[0]?.name).toBe('first');
    expect(next.artifacts[0]?.metadata).toEqual({ k: 1, j: 2 });
  });

  it('without append replaces the artifact with the same id', () => {
    const before = task({ artifacts: [artifact('a', ['1', '2']), artifact('b', ['x'])] });
    const next = applyArtifactUpdate(
      before,
      artifactUpdate(artifact('a', ['new'], { name: 'renamed' }), false),
    );
    expect(next.artifacts.map((a) => a.artifactId)).toEqual(['a', 'b']);
    expect(textsOf(next.artifacts[0])).toEqual(['new']);
    expect(next.artifacts[0]?.name).toBe('renamed');
  });

  it('ignores an update without an artifact', () => {
    const before = task({ artifacts: [artifact('a', ['1'])] });
    expect(applyArtifactUpdate(before, artifactUpdate(undefined, true))).toBe(before);
  });
});

describe('appendHistory', () => {
  it('appends a new message and skips one already present', () => {
    const once = appendHistory(task(), msg('u2'));
    expect(once.history.map((m) => m.messageId)).toEqual(['u1', 'u2']);
    expect(appendHistory(once, msg('u2'))).toBe(once);
  });
});

describe('mergeTaskEvent', () => {
  it('takes a changed status, merges metadata and reports what changed', () => {
    const before = task({ metadata: { a: 1 }, artifacts: [artifact('a', ['1'])] });
    const incoming = task({
      status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: undefined },
      metadata: { b: 2 },
      history: [msg('u1'), msg('a1', 'hi', Role.ROLE_AGENT)],
      artifacts: [artifact('a', ['ignored']), artifact('c', ['3'])],
    });
    const { task: next, statusChanged, artifacts } = mergeTaskEvent(before, incoming, NOW);
    expect(statusChanged).toBe(true);
    expect(next.status).toEqual({ state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: NOW });
    expect(next.metadata).toEqual({ a: 1, b: 2 });
    expect(next.history.map((m) => m.messageId)).toEqual(['u1', 'a1']);
    // Artifacts merge by id: an existing id is kept as it was, a new one is added and reported.
    expect(next.artifacts.map((a) => a.artifactId)).toEqual(['a', 'c']);
    expect(textsOf(next.artifacts[0])).toEqual(['1']);
    expect(artifacts.map((a) => a.artifactId)).toEqual(['c']);
  });

  it('reports no status change when the state is the same', () => {
    const before = task();
    const result = mergeTaskEvent(before, task(), NOW);
    expect(result.statusChanged).toBe(false);
    expect(result.artifacts).toEqual([]);
    expect(result.task.status).toEqual(before.status);
    expect(result.task.history.map((m) => m.messageId)).toEqual(['u1']);
  });
});

describe('limitHistory', () => {
  const long = task({ history: [msg('m1'), msg('m2'), msg('m3'), msg('m4')] });

  it('undefined keeps everything (the same object)', () => {
    expect(limitHistory(long, undefined)).toBe(long);
  });

  it('0 returns no history', () => {
    const limited = limitHistory(long, 0);
    expect(limited.history).toEqual([]);
    expect(limited.id).toBe('t1');
  });

  it('N returns the last N messages', () => {
    expect(limitHistory(long, 2).history.map((m) => m.messageId)).toEqual(['m3', 'm4']);
    expect(limitHistory(long, 1).history.map((m) => m.messageId)).toEqual(['m4']);
  });

  it('N at or above the length returns the task unchanged', () => {
    expect(limitHistory(long, 4)).toBe(long);
    expect(limitHistory(long, 100)).toBe(long);
  });
});

describe('inputs are never mutated', () => {
  function frozenFixture(): { before: Task; snapshot: Task } {
    const before = task({
      metadata: { a: 1 },
      artifacts: [artifact('a', ['1'], { metadata: { k: 1 } }), artifact('b', ['x'])],
      history: [msg('u1'), msg('u2'), msg('u3')],
    });
    const snapshot = structuredClone(before);
    return { before: deepFreeze(before), snapshot };
  }

  it('applyStatusUpdate', () => {
    const { before, snapshot } = frozenFixture();
    const update = deepFreeze(
      statusUpdate(TaskState.TASK_STATE_WORKING, msg('a1', 'x', Role.ROLE_AGENT), { metadata: { b: 2 } }),
    );
    const updateSnapshot = structuredClone(update);
    const next = applyStatusUpdate(before, update, NOW);
    expect(next).not.toBe(before);
    expect(before).toEqual(snapshot);
    expect(update).toEqual(updateSnapshot);
  });

  it('applyArtifactUpdate (append, replace and new id)', () => {
    const { before, snapshot } = frozenFixture();
    for (const [a, append] of [
      [artifact('a', ['2'], { metadata: { j: 2 } }), true],
      [artifact('a', ['r']), false],
      [artifact('z', ['n']), true],
    ] as const) {
      const update = deepFreeze(artifactUpdate(a, append));
      const updateSnapshot = structuredClone(update);
      applyArtifactUpdate(before, update);
      expect(update).toEqual(updateSnapshot);
    }
    expect(before).toEqual(snapshot);
  });

  it('mergeTaskEvent, appendHistory and limitHistory', () => {
    const { before, snapshot } = frozenFixture();
    const incoming = deepFreeze(
      task({
        status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: undefined },
        metadata: { c: 3 },
        history: [msg('u9')],
        artifacts: [artifact('new', ['n'])],
      }),
    );
    const incomingSnapshot = structuredClone(incoming);
    mergeTaskEvent(before, incoming, NOW);
    appendHistory(before, deepFreeze(msg('u10')));
    limitHistory(before, 0);
    limitHistory(before, 1);
    expect(before).toEqual(snapshot);
    expect(incoming).toEqual(incomingSnapshot);
  });
});
