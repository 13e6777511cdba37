import { Role, TaskState } from '@a2a-js/sdk';
import type { StreamResponse, Task, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStateStore, type MemoryStateStoreOptions } from '../../src/store/memory/memory-state-store.js';
import type { StoredTask, TaskEventRecord } from '../../src/store/ports.js';
import { storeConformance } from './conformance.js';
import { ownerConformance } from './owner-conformance.js';

storeConformance(
  'memory',
  async () =>
    new MemoryStateStore({
      retention: { ttlMs: 3_600_000, maxTerminalTasks: 100_000 },
      sweepIntervalMs: 3_600_000,
    }),
);
ownerConformance(
  'memory',
  async () =>
    new MemoryStateStore({
      retention: { ttlMs: 3_600_000, maxTerminalTasks: 100_000 },
      sweepIntervalMs: 3_600_000,
    }),
);

const T0 = Date.UTC(2030, 0, 1);

function record(id: string, state: TaskState): Omit<StoredTask, 'version'> {
  const task: Task = {
    id,
    contextId: 'ctx',
    status: { state, message: undefined, timestamp: undefined },
    artifacts: [],
    history: [
      {
        messageId: `m-${id}`,
        contextId: 'ctx',
        taskId: id,
        role: Role.ROLE_USER,
        parts: [
          {
            content: { $case: 'text', value: 'hi' },
            metadata: undefined,
            filename: '',
            mediaType: 'text/plain',
          },
        ],
        metadata: undefined,
        extensions: [],
        referenceTaskIds: [],
      },
    ],
    metadata: undefined,
  };
  return { task, agent: 'agent', tenant: '', lastSeq: 0, updatedAt: Date.now() };
}

function event(n: number): StreamResponse {
  return {
    payload: {
      $case: 'statusUpdate',
      value: {
        taskId: 't',
        contextId: 'ctx',
        status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: undefined },
        metadata: { n },
      },
    },
  };
}

function push(taskId: string): TaskPushNotificationConfig {
  return {
    tenant: '',
    id: 'hook',
    taskId,
    url: 'https://hooks.example.com/x',
    token: '',
    authentication: undefined,
  };
}

async function readToEnd(iterable: AsyncIterable<TaskEventRecord>): Promise<TaskEventRecord[]> {
  const out: TaskEventRecord[] = [];
  for await (const r of iterable) out.push(r);
  return out;
}

describe('MemoryStateStore retention', () => {
  const stores: MemoryStateStore[] = [];
  function make(
    options: Partial<MemoryStateStoreOptions> & {
      ttlMs?: number;
      maxTerminalTasks?: number;
      maxTerminalBytes?: number;
    } = {},
  ): MemoryStateStore {
    const store = new MemoryStateStore({
      retention: {
        ttlMs: options.ttlMs ?? 60_000,
        maxTerminalTasks: options.maxTerminalTasks ?? 1000,
        maxTerminalBytes: options.maxTerminalBytes,
      },
      maxEventsPerTask: options.maxEventsPerTask,
      sweepIntervalMs: options.sweepIntervalMs ?? 3_600_000,
    });
    stores.push(store);
    return store;
  }

  /** A task with two events and a push config, created in `state`. */
  async function seed(store: MemoryStateStore, id: string, state: TaskState): Promise<void> {
    await store.events.append(id, event(1));
    await store.events.append(id, event(2));
    await store.pushConfigs.put(push(id));
    await store.tasks.create(record(id, state));
  }

  async function exists(store: MemoryStateStore, id: string): Promise<{ task: boolean; push: boolean }> {
    return {
      task: (await store.tasks.get(id)) !== undefined,
      push: (await store.pushConfigs.list(id)).length > 0,
    };
  }

  afterEach(async () => {
    vi.useRealTimers();
    for (const s of stores.splice(0)) await s.close();
  });

  it('keeps at most maxTerminalTasks finished tasks, evicting the oldest with its events and push configs', async () => {
    const store = make({ maxTerminalTasks: 2 });
    await seed(store, 'a', TaskState.TASK_STATE_COMPLETED);
    await seed(store, 'b', TaskState.TASK_STATE_FAILED);
    expect(store.tasks.size()).toBe(2);
    expect(store.events.size()).toBe(2);

    await seed(store, 'c', TaskState.TASK_STATE_CANCELED);
    expect(await exists(store, 'a')).toEqual({ task: false, push: false });
    expect(await exists(store, 'b')).toEqual({ task: true, push: true });
    expect(await exists(store, 'c')).toEqual({ task: true, push: true });
    expect(store.tasks.size()).toBe(2);
    expect(store.events.size()).toBe(2);

    await seed(store, 'd', TaskState.TASK_STATE_REJECTED);
    expect(await exists(store, 'b')).toEqual({ task: false, push: false });
    expect(store.events.size()).toBe(2);
    // The surviving tasks keep their events.
    await store.events.close('d');
    expect(
      (await readToEnd(store.events.follow('d', 0, new AbortController().signal))).map((r) => r.seq),
    ).toEqual([1, 2]);
  });

  it('keeps finished tasks within maxTerminalBytes, evicting the oldest; running tasks are never evicted', async () => {
    const store = make({ maxTerminalBytes: 5 * 1024 * 1024 });
    const big = (id: string, state: TaskState): Omit<StoredTask, 'version'> => {
      const r = record(id, state);
      const text = { content: { $case: 'text' as const, value: 'x'.repeat(1024 * 1024) } };
      const parts = [{ ...text, metadata: undefined, filename: '', mediaType: 'text/plain' }];
      const artifact = {
        artifactId: 'a',
        name: '',
        description: '',
        parts,
        metadata: undefined,
        extensions: [],
      };
      return { ...r, task: { ...r.task, artifacts: [artifact] } };
    };
    await store.tasks.create(big('running', TaskState.TASK_STATE_WORKING));
    for (const id of ['t1', 't2', 't3', 't4', 't5'])
      await store.tasks.create(big(id, TaskState.TASK_STATE_COMPLETED));
    // Each weighs about 2 MiB (snapshot and events): two fit in 5 MiB, the oldest went first.
    const kept = [];
    for (const id of ['t1', 't2', 't3', 't4', 't5']) if (await store.tasks.get(id)) kept.push(id);
    expect(kept).toEqual(['t4', 't5']);
    expect(store.tasks.terminalBytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    expect(store.tasks.terminalBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(await store.tasks.get('running')).toBeDefined();
    await store.tasks.delete('t5');
    expect(store.tasks.terminalBytes).toBeLessThan(3 * 1024 * 1024);
  });

  it('orders eviction by when tasks finished, not when they were created', async () => {
    const store = make({ maxTerminalTasks: 2 });
    await seed(store, 'early', TaskState.TASK_STATE_WORKING);
    await seed(store, 'late', TaskState.TASK_STATE_WORKING);
    await store.tasks.save(record('late', TaskState.TASK_STATE_COMPLETED), 1);
    await store.tasks.save(record('early', TaskState.TASK_STATE_COMPLETED), 1);
    await seed(store, 'third', TaskState.TASK_STATE_COMPLETED);
    expect((await exists(store, 'late')).task).toBe(false);
    expect((await exists(store, 'early')).task).toBe(true);
    expect((await exists(store, 'third')).task).toBe(true);
  });

  it('re-saving a finished task does not restart its retention clock', async () => {
    const store = make({ maxTerminalTasks: 2 });
    await seed(store, 'a', TaskState.TASK_STATE_COMPLETED);
    await seed(store, 'b', TaskState.TASK_STATE_COMPLETED);
    await store.tasks.save(record('a', TaskState.TASK_STATE_COMPLETED), 1);
    await seed(store, 'c', TaskState.TASK_STATE_COMPLETED);
    expect((await exists(store, 'a')).task).toBe(false);
    expect((await exists(store, 'b')).task).toBe(true);
  });

  it('never evicts non-terminal tasks, whatever their number or age', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const store = make({ maxTerminalTasks: 1, ttlMs: 1000 });
    const live = [
      TaskState.TASK_STATE_SUBMITTED,
      TaskState.TASK_STATE_WORKING,
      TaskState.TASK_STATE_INPUT_REQUIRED,
      TaskState.TASK_STATE_AUTH_REQUIRED,
    ];
    for (const [i, state] of live.entries()) await seed(store, `live${i}`, state);
    await seed(store, 'done1', TaskState.TASK_STATE_COMPLETED);
    await seed(store, 'done2', TaskState.TASK_STATE_COMPLETED);
    expect(store.sweep(T0 + 365 * 24 * 3600 * 1000)).toBe(1);
    for (let i = 0; i < live.length; i++)
      expect(await exists(store, `live${i}`)).toEqual({ task: true, push: true });
    expect(store.tasks.size()).toBe(live.length);
    expect(store.events.size()).toBe(live.length);
  });

  it('sweep(now) evicts terminal tasks finished more than ttl ago, with their events and push configs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = make({ ttlMs: 1000 });
    vi.setSystemTime(T0);
    await seed(store, 'first', TaskState.TASK_STATE_COMPLETED);
    await seed(store, 'working', TaskState.TASK_STATE_WORKING);
    vi.setSystemTime(T0 + 500);
    await seed(store, 'second', TaskState.TASK_STATE_FAILED);

    expect(store.sweep(T0 + 1000)).toBe(0);
    expect((await exists(store, 'first')).task).toBe(true);

    expect(store.sweep(T0 + 1001)).toBe(1);
    expect(await exists(store, 'first')).toEqual({ task: false, push: false });
    expect(await exists(store, 'second')).toEqual({ task: true, push: true });
    expect(store.events.size()).toBe(2);

    expect(store.sweep(T0 + 1501)).toBe(1);
    expect(await exists(store, 'second')).toEqual({ task: false, push: false });
    expect(await exists(store, 'working')).toEqual({ task: true, push: true });
    expect(store.events.size()).toBe(1);
  });

  it('the retention clock starts when the task finishes, not when it was created', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = make({ ttlMs: 1000 });
    vi.setSystemTime(T0);
    await seed(store, 'a', TaskState.TASK_STATE_WORKING);
    vi.setSystemTime(T0 + 5000);
    await store.tasks.save(record('a', TaskState.TASK_STATE_COMPLETED), 1);
    expect(store.sweep(T0 + 5500)).toBe(0);
    expect(store.sweep(T0 + 6001)).toBe(1);
  });

  it('the background sweeper evicts expired tasks without an explicit sweep()', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    vi.setSystemTime(T0);
    const store = make({ ttlMs: 1000, sweepIntervalMs: 100 });
    await seed(store, 'a', TaskState.TASK_STATE_COMPLETED);
    vi.advanceTimersByTime(900);
    expect((await exists(store, 'a')).task).toBe(true);
    vi.advanceTimersByTime(300);
    expect(await exists(store, 'a')).toEqual({ task: false, push: false });
  });

  it('a follower of an evicted task reads what was there, then ends', async () => {
    const store = make({ maxTerminalTasks: 1 });
    await seed(store, 'a', TaskState.TASK_STATE_COMPLETED);
    const follower = store.events.follow('a', 0, new AbortController().signal);
    await seed(store, 'b', TaskState.TASK_STATE_COMPLETED);
    expect((await exists(store, 'a')).task).toBe(false);
    expect((await readToEnd(follower)).map((r) => r.seq)).toEqual([1, 2]);
    expect(store.events.followerCount()).toBe(0);
  });

  it('maxEventsPerTask drops the oldest events but keeps numbering', async () => {
    const store = make({ maxEventsPerTask: 3 });
    const seqs: number[] = [];
    for (let n = 1; n <= 5; n++) seqs.push(await store.events.append('t', event(n)));
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    await store.events.close('t');
    const all = await readToEnd(store.events.follow('t', 0, new AbortController().signal));
    expect(all.map((r) => r.seq)).toEqual([3, 4, 5]);
    expect(
      all.map((r) =>
        r.event.payload?.$case === 'statusUpdate' ? r.event.payload.value.metadata?.n : undefined,
      ),
    ).toEqual([3, 4, 5]);
    expect(
      (await readToEnd(store.events.follow('t', 4, new AbortController().signal))).map((r) => r.seq),
    ).toEqual([5]);
  });

  it('a slow follower whose cursor fell behind continues from the oldest retained event', async () => {
    const store = make({ maxEventsPerTask: 2 });
    await store.events.append('t', event(1));
    const it = store.events.follow('t', 0, new AbortController().signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ seq: 1 });
    for (let n = 2; n <= 5; n++) await store.events.append('t', event(n));
    await store.events.close('t');
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.seq);
    expect(rest).toEqual([4, 5]);
  });

  it('a live follower whose cursor fell behind gets the retained events without waiting for another append', async () => {
    const store = make({ maxEventsPerTask: 2 });
    await store.events.append('t', event(1));
    const it = store.events.follow('t', 0, new AbortController().signal)[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ seq: 1 });
    for (let n = 2; n <= 5; n++) await store.events.append('t', event(n));
    // Nothing else will be appended: a reader that waits for a wake-up here would hang.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 2000)));
    const next = await Promise.race([it.next(), hung]).finally(() => clearTimeout(timer));
    expect(next).toMatchObject({ done: false, value: { seq: 4 } });
    expect((await it.next()).value).toMatchObject({ seq: 5 });
    await it.return?.();
    expect(store.events.followerCount()).toBe(0);
  });

  it('a follower of a task that never got events leaves nothing behind when released', async () => {
    const store = make();
    const controller = new AbortController();
    store.events.follow('ghost', 0, controller.signal);
    expect(store.events.size()).toBe(1);
    controller.abort();
    expect(store.events.followerCount()).toBe(0);
    expect(store.events.size()).toBe(0);
  });
});
