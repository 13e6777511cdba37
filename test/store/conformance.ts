/**
 * Backend-independent conformance suite for the storage ports of `src/store/ports.ts`.
 * Every StateStore implementation (memory now, Redis later) runs it unchanged:
 *
 *   storeConformance('memory', async () => new MemoryStateStore({ ... }));
 *
 * `make` must return a store the tests may write to; it is closed after each test. The
 * suite uses fresh, random task ids and agent names in every test, so a backend whose
 * instances share one database (e.g. one Redis) still gets exact results.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { Message, StreamResponse, Task, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/server.js';
import { AgentdError } from '../../src/errors.js';
import type {
  RegisteredAgent,
  StateStore,
  StoredTask,
  TaskEventRecord,
  TaskQuery,
} from '../../src/store/ports.js';

type RegisteredCard = Omit<RegisteredAgent, 'serverId'>;

type NewRecord = Omit<StoredTask, 'version'>;

/** Options for one record built by {@link record}. */
interface RecordOptions {
  agent?: string;
  tenant?: string;
  contextId?: string;
  state?: TaskState;
  updatedAt?: number;
  lastSeq?: number;
  text?: string;
}

function message(text: string, taskId: string, contextId: string): Message {
  return {
    messageId: randomUUID(),
    contextId,
    taskId,
    role: Role.ROLE_USER,
    parts: [
      { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function record(id: string, o: RecordOptions = {}): NewRecord {
  const contextId = o.contextId ?? 'ctx-default';
  const updatedAt = o.updatedAt ?? 1_700_000_000_000;
  const task: Task = {
    id,
    contextId,
    status: {
      state: o.state ?? TaskState.TASK_STATE_WORKING,
      message: undefined,
      timestamp: new Date(updatedAt).toISOString(),
    },
    artifacts: [],
    history: [message(o.text ?? `hello ${id}`, id, contextId)],
    metadata: { note: o.text ?? 'initial' },
  };
  return { task, agent: o.agent ?? 'agent', tenant: o.tenant ?? '', lastSeq: o.lastSeq ?? 0, updatedAt };
}

function statusEvent(taskId: string, state: TaskState, n: number): StreamResponse {
  return {
    payload: {
      $case: 'statusUpdate',
      value: {
        taskId,
        contextId: 'ctx',
        status: { state, message: undefined, timestamp: new Date(1_700_000_000_000 + n).toISOString() },
        metadata: { n },
      },
    },
  };
}

function pushConfig(
  taskId: string,
  id: string,
  url = `https://hooks.example.com/${id}`,
): TaskPushNotificationConfig {
  return {
    tenant: '',
    id,
    taskId,
    url,
    token: `token-${id}`,
    authentication: { scheme: 'Bearer', credentials: `secret-${id}` },
  };
}

/** The `n` field each test event carries, to compare events independently of seq. */
function nOf(r: TaskEventRecord): unknown {
  const p = r.event.payload;
  return p?.$case === 'statusUpdate' ? (p.value.metadata as { n?: unknown } | undefined)?.n : undefined;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<AgentdError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(AgentdError);
  expect((caught as AgentdError).code).toBe(code);
  return caught as AgentdError;
}

/** Rejects if `promise` has not settled within `ms` (a guard, so a hang fails with a message). */
function within<T>(promise: Promise<T>, what: string, ms = 2000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits (yielding to the event loop) until `predicate` holds; for counters a backend may settle asynchronously. */
async function until(predicate: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Reads records until the follower ends. */
async function readToEnd(
  iterable: AsyncIterable<TaskEventRecord>,
  what = 'follower to end',
): Promise<TaskEventRecord[]> {
  const collect = async (): Promise<TaskEventRecord[]> => {
    const out: TaskEventRecord[] = [];
    for await (const r of iterable) out.push(r);
    return out;
  };
  return within(collect(), what);
}

async function nextRecord(it: AsyncIterator<TaskEventRecord>, what = 'next event'): Promise<TaskEventRecord> {
  const r = await within(it.next(), what);
  if (r.done) throw new Error(`follower ended while waiting for ${what}`);
  return r.value;
}

export function storeConformance(name: string, make: () => Promise<StateStore>): void {
  describe(`StateStore conformance: ${name}`, () => {
    let store: StateStore;
    /** A prefix unique to the running test, for task ids and agent names. */
    let p: string;
    const id = (s: string): string => `${p}-${s}`;
    const controllers: AbortController[] = [];
    const signal = (): AbortSignal => {
      const c = new AbortController();
      controllers.push(c);
      return c.signal;
    };
    const query = (agent: string, extra: Partial<TaskQuery> = {}): TaskQuery => ({
      agent,
      tenant: '',
      pageSize: 100,
      pageToken: '',
      ...extra,
    });

    beforeEach(async () => {
      store = await make();
      p = randomUUID().slice(0, 8);
    });
    afterEach(async () => {
      for (const c of controllers.splice(0)) c.abort();
      await store.close();
    });

    it('pings', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('TaskStore', () => {
      it('create stores version 1 and get returns it', async () => {
        const r = record(id('a'), { lastSeq: 3, updatedAt: 1234 });
        const created = await store.tasks.create(r);
        expect(created.version).toBe(1);
        expect(created).toMatchObject({ agent: 'agent', tenant: '', lastSeq: 3, updatedAt: 1234 });
        expect(created.task).toEqual(r.task);
        const got = await store.tasks.get(id('a'));
        expect(got).toEqual(created);
      });

      it('get of an unknown id is undefined', async () => {
        expect(await store.tasks.get(id('missing'))).toBeUndefined();
      });

      it('create of an existing id fails with TASK_CONFLICT and changes nothing', async () => {
        const original = await store.tasks.create(record(id('a'), { text: 'original' }));
        await expectCode(
          store.tasks.create(record(id('a'), { text: 'impostor', updatedAt: 9 })),
          'TASK_CONFLICT',
        );
        expect(await store.tasks.get(id('a'))).toEqual(original);
      });

      it('save with the current version replaces the snapshot and bumps the version', async () => {
        await store.tasks.create(record(id('a')));
        const next = record(id('a'), {
          state: TaskState.TASK_STATE_COMPLETED,
          lastSeq: 5,
          updatedAt: 2000,
          text: 'v2',
        });
        const saved = await store.tasks.save(next, 1);
        expect(saved.version).toBe(2);
        expect(saved.task).toEqual(next.task);
        expect(saved).toMatchObject({ lastSeq: 5, updatedAt: 2000 });
        const again = await store.tasks.save(
          record(id('a'), { state: TaskState.TASK_STATE_COMPLETED, lastSeq: 6, text: 'v3' }),
          2,
        );
        expect(again.version).toBe(3);
        expect(await store.tasks.get(id('a'))).toEqual(again);
      });

      it('save with a stale or future version fails with TASK_CONFLICT and changes nothing', async () => {
        await store.tasks.create(record(id('a')));
        const current = await store.tasks.save(record(id('a'), { text: 'v2', lastSeq: 1 }), 1);
        await expectCode(
          store.tasks.save(record(id('a'), { text: 'stale', lastSeq: 9 }), 1),
          'TASK_CONFLICT',
        );
        await expectCode(
          store.tasks.save(record(id('a'), { text: 'future', lastSeq: 9 }), 7),
          'TASK_CONFLICT',
        );
        expect(await store.tasks.get(id('a'))).toEqual(current);
      });

      it('save of a task that does not exist fails with TASK_CONFLICT and creates nothing', async () => {
        await expectCode(store.tasks.save(record(id('ghost')), 1), 'TASK_CONFLICT');
        expect(await store.tasks.get(id('ghost'))).toBeUndefined();
      });

      it('of two concurrent saves at the same version exactly one wins', async () => {
        await store.tasks.create(record(id('a')));
        const results = await Promise.allSettled([
          store.tasks.save(record(id('a'), { text: 'left' }), 1),
          store.tasks.save(record(id('a'), { text: 'right' }), 1),
        ]);
        const won = results.filter((r): r is PromiseFulfilledResult<StoredTask> => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0]?.reason as AgentdError).code).toBe('TASK_CONFLICT');
        expect(await store.tasks.get(id('a'))).toEqual(won[0]?.value);
      });

      it('delete removes the task (and from listings); deleting an absent task is a no-op', async () => {
        const agent = id('agent');
        await store.tasks.create(record(id('a'), { agent }));
        await store.tasks.create(record(id('b'), { agent }));
        await store.tasks.delete(id('a'));
        expect(await store.tasks.get(id('a'))).toBeUndefined();
        await expect(store.tasks.delete(id('a'))).resolves.toBeUndefined();
        await expect(store.tasks.delete(id('never'))).resolves.toBeUndefined();
        const page = await store.tasks.list(query(agent));
        expect(page.tasks.map((t) => t.task.id)).toEqual([id('b')]);
        expect(page.totalSize).toBe(1);
        // The id is free again.
        expect((await store.tasks.create(record(id('a'), { agent }))).version).toBe(1);
      });

      describe('list', () => {
        it('an empty result has no tasks, no next page and totalSize 0', async () => {
          expect(await store.tasks.list(query(id('nobody')))).toEqual({
            tasks: [],
            nextPageToken: '',
            totalSize: 0,
          });
        });

        it('sorts by updatedAt descending, ties by id descending, with the stored records', async () => {
          const agent = id('agent');
          await store.tasks.create(record(id('m'), { agent, updatedAt: 2000 }));
          await store.tasks.create(record(id('z'), { agent, updatedAt: 1000 }));
          await store.tasks.create(record(id('a'), { agent, updatedAt: 3000 }));
          await store.tasks.create(record(id('b'), { agent, updatedAt: 2000 }));
          await store.tasks.create(record(id('x'), { agent, updatedAt: 2000 }));
          const page = await store.tasks.list(query(agent));
          expect(page.tasks.map((t) => t.task.id)).toEqual([id('a'), id('x'), id('m'), id('b'), id('z')]);
          expect(page.totalSize).toBe(5);
          expect(page.nextPageToken).toBe('');
          expect(page.tasks[0]).toEqual(await store.tasks.get(id('a')));
        });

        it('reflects saves: a re-saved task moves by its new updatedAt and shows its new version', async () => {
          const agent = id('agent');
          await store.tasks.create(record(id('a'), { agent, updatedAt: 1000 }));
          await store.tasks.create(record(id('b'), { agent, updatedAt: 2000 }));
          await store.tasks.create(record(id('c'), { agent, updatedAt: 3000 }));
          await store.tasks.save(
            record(id('a'), { agent, updatedAt: 4000, state: TaskState.TASK_STATE_COMPLETED }),
            1,
          );
          const page = await store.tasks.list(query(agent));
          expect(page.tasks.map((t) => t.task.id)).toEqual([id('a'), id('c'), id('b')]);
          expect(page.tasks[0]?.version).toBe(2);
          expect(page.tasks[0]?.task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
        });

        it('pages through every task exactly once, in order, with totalSize on each page', async () => {
          const agent = id('agent');
          // 13 tasks, several sharing an updatedAt, inserted out of order.
          const specs = Array.from({ length: 13 }, (_, i) => ({
            key: `t${String(i).padStart(2, '0')}`,
            updatedAt: 5000 - Math.floor(i / 3) * 10,
          }));
          for (const s of [...specs].reverse().filter((_, i) => i % 2 === 0)) {
            await store.tasks.create(record(id(s.key), { agent, updatedAt: s.updatedAt }));
          }
          for (const s of [...specs].reverse().filter((_, i) => i % 2 === 1)) {
            await store.tasks.create(record(id(s.key), { agent, updatedAt: s.updatedAt }));
          }
          const all = (await store.tasks.list(query(agent))).tasks.map((t) => t.task.id);
          expect(all).toHaveLength(13);

          for (const pageSize of [1, 4, 5, 13]) {
            const seen: string[] = [];
            const sizes: number[] = [];
            let token = '';
            let pages = 0;
            do {
              const page = await store.tasks.list(query(agent, { pageSize, pageToken: token }));
              expect(page.totalSize).toBe(13);
              expect(page.tasks.length).toBeLessThanOrEqual(pageSize);
              seen.push(...page.tasks.map((t) => t.task.id));
              sizes.push(page.tasks.length);
              token = page.nextPageToken;
              pages++;
              expect(pages).toBeLessThanOrEqual(13);
            } while (token);
            expect(seen, `pageSize ${pageSize}`).toEqual(all);
            expect(new Set(seen).size).toBe(13);
            expect(sizes.slice(0, -1).every((n) => n === pageSize)).toBe(true);
          }
        });

        it('the last page has an empty nextPageToken even when it is exactly full', async () => {
          const agent = id('agent');
          for (const k of ['a', 'b', 'c', 'd']) await store.tasks.create(record(id(k), { agent }));
          const first = await store.tasks.list(query(agent, { pageSize: 2 }));
          expect(first.nextPageToken).not.toBe('');
          const second = await store.tasks.list(
            query(agent, { pageSize: 2, pageToken: first.nextPageToken }),
          );
          expect(second.tasks).toHaveLength(2);
          expect(second.nextPageToken).toBe('');
        });

        it('a task created between pages causes no duplicate or gap in the pages that follow', async () => {
          const agent = id('agent');
          for (let i = 0; i < 6; i++)
            await store.tasks.create(record(id(`t${i}`), { agent, updatedAt: 1000 + i }));
          const first = await store.tasks.list(query(agent, { pageSize: 3 }));
          expect(first.tasks.map((t) => t.task.id)).toEqual([id('t5'), id('t4'), id('t3')]);
          await store.tasks.create(record(id('newest'), { agent, updatedAt: 9999 }));
          const second = await store.tasks.list(
            query(agent, { pageSize: 3, pageToken: first.nextPageToken }),
          );
          expect(second.tasks.map((t) => t.task.id)).toEqual([id('t2'), id('t1'), id('t0')]);
          expect(second.totalSize).toBe(7);
        });

        it('deleting the task a page ended on does not disturb the next page', async () => {
          const agent = id('agent');
          for (let i = 0; i < 6; i++)
            await store.tasks.create(record(id(`t${i}`), { agent, updatedAt: 1000 + i }));
          const first = await store.tasks.list(query(agent, { pageSize: 3 }));
          await store.tasks.delete(id('t3'));
          const second = await store.tasks.list(
            query(agent, { pageSize: 3, pageToken: first.nextPageToken }),
          );
          expect(second.tasks.map((t) => t.task.id)).toEqual([id('t2'), id('t1'), id('t0')]);
          expect(second.nextPageToken).toBe('');
        });

        it('filters by agent and tenant', async () => {
          const agent = id('agent');
          const other = id('other');
          await store.tasks.create(record(id('a'), { agent }));
          await store.tasks.create(record(id('b'), { agent: other }));
          await store.tasks.create(record(id('c'), { agent, tenant: 'acme' }));
          await store.tasks.create(record(id('d'), { agent, tenant: 'acme' }));
          expect((await store.tasks.list(query(agent))).tasks.map((t) => t.task.id)).toEqual([id('a')]);
          expect((await store.tasks.list(query(other))).tasks.map((t) => t.task.id)).toEqual([id('b')]);
          const acme = await store.tasks.list(query(agent, { tenant: 'acme' }));
          expect(acme.tasks.map((t) => t.task.id).sort()).toEqual([id('c'), id('d')]);
          expect(acme.totalSize).toBe(2);
          expect((await store.tasks.list(query(other, { tenant: 'acme' }))).totalSize).toBe(0);
        });

        it('filters by contextId', async () => {
          const agent = id('agent');
          await store.tasks.create(record(id('a'), { agent, contextId: 'c1', updatedAt: 1 }));
          await store.tasks.create(record(id('b'), { agent, contextId: 'c2', updatedAt: 2 }));
          await store.tasks.create(record(id('c'), { agent, contextId: 'c1', updatedAt: 3 }));
          const page = await store.tasks.list(query(agent, { contextId: 'c1' }));
          expect(page.tasks.map((t) => t.task.id)).toEqual([id('c'), id('a')]);
          expect(page.totalSize).toBe(2);
          expect((await store.tasks.list(query(agent, { contextId: 'nope' }))).totalSize).toBe(0);
        });

        it('filters by state, following saves', async () => {
          const agent = id('agent');
          await store.tasks.create(record(id('a'), { agent, state: TaskState.TASK_STATE_WORKING }));
          await store.tasks.create(record(id('b'), { agent, state: TaskState.TASK_STATE_COMPLETED }));
          await store.tasks.create(record(id('c'), { agent, state: TaskState.TASK_STATE_WORKING }));
          const working = await store.tasks.list(query(agent, { state: TaskState.TASK_STATE_WORKING }));
          expect(working.tasks.map((t) => t.task.id).sort()).toEqual([id('a'), id('c')]);
          await store.tasks.save(record(id('a'), { agent, state: TaskState.TASK_STATE_COMPLETED }), 1);
          const after = await store.tasks.list(query(agent, { state: TaskState.TASK_STATE_WORKING }));
          expect(after.tasks.map((t) => t.task.id)).toEqual([id('c')]);
          const completed = await store.tasks.list(query(agent, { state: TaskState.TASK_STATE_COMPLETED }));
          expect(completed.tasks.map((t) => t.task.id).sort()).toEqual([id('a'), id('b')]);
          expect(completed.totalSize).toBe(2);
        });

        it('filters by updatedAfter, inclusive of the instant itself', async () => {
          const agent = id('agent');
          await store.tasks.create(record(id('a'), { agent, updatedAt: 1000 }));
          await store.tasks.create(record(id('b'), { agent, updatedAt: 2000 }));
          await store.tasks.create(record(id('c'), { agent, updatedAt: 3000 }));
          const page = await store.tasks.list(query(agent, { updatedAfter: 2000 }));
          expect(page.tasks.map((t) => t.task.id)).toEqual([id('c'), id('b')]);
          expect(page.totalSize).toBe(2);
          expect((await store.tasks.list(query(agent, { updatedAfter: 3001 }))).totalSize).toBe(0);
        });

        it('combines filters and pages within the filtered set', async () => {
          const agent = id('agent');
          for (let i = 0; i < 8; i++) {
            await store.tasks.create(
              record(id(`t${i}`), {
                agent,
                contextId: i % 2 === 0 ? 'even' : 'odd',
                state: i < 6 ? TaskState.TASK_STATE_WORKING : TaskState.TASK_STATE_COMPLETED,
                updatedAt: 1000 + i,
              }),
            );
          }
          const q = {
            contextId: 'even',
            state: TaskState.TASK_STATE_WORKING,
            updatedAfter: 1001,
            pageSize: 1,
          };
          const first = await store.tasks.list(query(agent, q));
          expect(first.totalSize).toBe(2);
          expect(first.tasks.map((t) => t.task.id)).toEqual([id('t4')]);
          const second = await store.tasks.list(query(agent, { ...q, pageToken: first.nextPageToken }));
          expect(second.tasks.map((t) => t.task.id)).toEqual([id('t2')]);
          expect(second.nextPageToken).toBe('');
        });

        it('a page token it did not issue fails with INVALID_PARAMS naming pageToken', async () => {
          const agent = id('agent');
          await store.tasks.create(record(id('a'), { agent }));
          for (const token of [
            'not a token',
            'bm9wZQ',
            Buffer.from('{"a":1}').toString('base64url'),
            Buffer.from('[1]').toString('base64url'),
          ]) {
            const error = await expectCode(
              store.tasks.list(query(agent, { pageToken: token })),
              'INVALID_PARAMS',
            );
            expect(error.data?.field).toBe('pageToken');
          }
        });
      });
    });

    describe('EventLog', () => {
      it('append numbers events 1, 2, 3 ... per task', async () => {
        const a = id('a');
        const b = id('b');
        expect(await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1))).toBe(1);
        expect(await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 2))).toBe(2);
        expect(await store.events.append(b, statusEvent(b, TaskState.TASK_STATE_WORKING, 1))).toBe(1);
        expect(await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 3))).toBe(3);
      });

      it('concurrent appends get distinct consecutive sequence numbers', async () => {
        const a = id('a');
        const seqs = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, i)),
          ),
        );
        expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });

      it('follow replays the events after the cursor, in order, with the events as appended', async () => {
        const a = id('a');
        for (let n = 1; n <= 4; n++)
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, n));
        await store.events.close(a);
        const all = await readToEnd(store.events.follow(a, 0, signal()));
        expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
        expect(all.map(nOf)).toEqual([1, 2, 3, 4]);
        expect(all[2]?.event).toEqual(statusEvent(a, TaskState.TASK_STATE_WORKING, 3));
        const tail = await readToEnd(store.events.follow(a, 2, signal()));
        expect(tail.map((r) => r.seq)).toEqual([3, 4]);
        expect(await readToEnd(store.events.follow(a, 4, signal()))).toEqual([]);
      });

      it('follow replays, then follows live appends', async () => {
        const a = id('a');
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 2));
        const it = store.events.follow(a, 1, signal())[Symbol.asyncIterator]();
        expect((await nextRecord(it, 'replayed seq 2')).seq).toBe(2);
        const pending = it.next();
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 3));
        const live = await within(pending, 'live seq 3');
        expect(live.done).toBe(false);
        expect(live.value).toMatchObject({ seq: 3 });
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 4));
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 5));
        expect((await nextRecord(it)).seq).toBe(4);
        expect((await nextRecord(it)).seq).toBe(5);
        await it.return?.();
      });

      it('a follower registered before the first append receives it, even if it iterates later', async () => {
        const a = id('a');
        const follower = store.events.follow(a, 0, signal());
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        const it = follower[Symbol.asyncIterator]();
        expect((await nextRecord(it, 'first event')).seq).toBe(1);
        await it.return?.();
      });

      it('a follower waiting on a task with no events yet wakes on the first append', async () => {
        const a = id('a');
        const it = store.events.follow(a, 0, signal())[Symbol.asyncIterator]();
        const pending = it.next();
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 7));
        const first = await within(pending, 'first event');
        expect(first.done).toBe(false);
        expect(first.value).toMatchObject({ seq: 1 });
        expect(nOf(first.value as TaskEventRecord)).toBe(7);
        await it.return?.();
      });

      it('every follower gets every event, and followers of other tasks get none of them', async () => {
        const a = id('a');
        const b = id('b');
        const f1 = store.events.follow(a, 0, signal());
        const f2 = store.events.follow(a, 0, signal());
        const fb = store.events.follow(b, 0, signal());
        for (let n = 1; n <= 3; n++)
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, n));
        await store.events.append(b, statusEvent(b, TaskState.TASK_STATE_WORKING, 99));
        await store.events.close(a);
        await store.events.close(b);
        const [r1, r2, rb] = await Promise.all([readToEnd(f1), readToEnd(f2), readToEnd(fb)]);
        expect(r1.map(nOf)).toEqual([1, 2, 3]);
        expect(r2.map(nOf)).toEqual([1, 2, 3]);
        expect(rb.map(nOf)).toEqual([99]);
      });

      it('close() ends followers once they have read what is there', async () => {
        const a = id('a');
        const base = store.events.followerCount();
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        const it = store.events.follow(a, 0, signal())[Symbol.asyncIterator]();
        expect((await nextRecord(it)).seq).toBe(1);
        const pending = it.next();
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_COMPLETED, 2));
        await store.events.close(a);
        const second = await within(pending, 'seq 2 before the end');
        expect(second.value).toMatchObject({ seq: 2 });
        expect((await within(it.next(), 'end after close')).done).toBe(true);
        await until(() => store.events.followerCount() === base, 'follower released after close');
      });

      it('a follower waiting on a closed-but-empty tail ends when close() is called', async () => {
        const a = id('a');
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        const it = store.events.follow(a, 1, signal())[Symbol.asyncIterator]();
        const pending = it.next();
        await store.events.close(a);
        expect((await within(pending, 'end after close')).done).toBe(true);
      });

      it('follow on a closed log replays and then ends', async () => {
        const a = id('a');
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_COMPLETED, 2));
        await store.events.close(a);
        expect((await readToEnd(store.events.follow(a, 0, signal()))).map((r) => r.seq)).toEqual([1, 2]);
        expect(await readToEnd(store.events.follow(a, 2, signal()))).toEqual([]);
      });

      it('delete() after a follower attached still lets it read what was appended, then ends it', async () => {
        const a = id('a');
        const base = store.events.followerCount();
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        const follower = store.events.follow(a, 0, signal());
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 2));
        await store.events.delete(a);
        expect((await readToEnd(follower)).map((r) => r.seq)).toEqual([1, 2]);
        await until(() => store.events.followerCount() === base, 'follower released after delete');
      });

      it('delete() wakes a follower waiting for more and ends it', async () => {
        const a = id('a');
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        const it = store.events.follow(a, 0, signal())[Symbol.asyncIterator]();
        expect((await nextRecord(it)).seq).toBe(1);
        const pending = it.next();
        await store.events.delete(a);
        expect((await within(pending, 'end after delete')).done).toBe(true);
      });

      it('delete() and close() of an unknown task are no-ops', async () => {
        await expect(store.events.delete(id('never'))).resolves.toBeUndefined();
        await expect(store.events.close(id('never'))).resolves.toBeUndefined();
      });

      it('aborting the signal releases a follower that was never iterated', async () => {
        const a = id('a');
        const base = store.events.followerCount();
        const controller = new AbortController();
        store.events.follow(a, 0, controller.signal);
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        expect(store.events.followerCount()).toBe(base + 1);
        controller.abort();
        await until(() => store.events.followerCount() === base, 'follower released on abort');
      });

      it('aborting the signal ends a follower waiting for the next event', async () => {
        const a = id('a');
        const base = store.events.followerCount();
        const controller = new AbortController();
        const it = store.events.follow(a, 0, controller.signal)[Symbol.asyncIterator]();
        const pending = it.next();
        expect(store.events.followerCount()).toBe(base + 1);
        controller.abort();
        expect((await within(pending, 'end after abort')).done).toBe(true);
        await until(() => store.events.followerCount() === base, 'follower released on abort');
      });

      it('a follow() with an already-aborted signal yields nothing and holds no follower', async () => {
        const a = id('a');
        await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
        const base = store.events.followerCount();
        const controller = new AbortController();
        controller.abort();
        expect(await readToEnd(store.events.follow(a, 0, controller.signal))).toEqual([]);
        await until(() => store.events.followerCount() === base, 'no follower held');
      });

      it('breaking out of the loop releases the follower', async () => {
        const a = id('a');
        const base = store.events.followerCount();
        for (let n = 1; n <= 3; n++)
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, n));
        const seen: number[] = [];
        for await (const r of store.events.follow(a, 0, signal())) {
          seen.push(r.seq);
          if (r.seq === 2) break;
        }
        expect(seen).toEqual([1, 2]);
        await until(() => store.events.followerCount() === base, 'follower released on break');
      });

      describe('read', () => {
        it('returns the events after the cursor, in order, with the events as appended', async () => {
          const a = id('a');
          for (let n = 1; n <= 4; n++)
            await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, n));
          const all = await store.events.read(a, 0);
          expect(all.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
          expect(all.map((r) => r.event)).toEqual(
            [1, 2, 3, 4].map((n) => statusEvent(a, TaskState.TASK_STATE_WORKING, n)),
          );
          expect((await store.events.read(a, 2)).map((r) => r.seq)).toEqual([3, 4]);
          expect(await store.events.read(a, 4)).toEqual([]);
          expect(await store.events.read(a, 99)).toEqual([]);
        });

        it('does not wait: later appends show up in the next read', async () => {
          const a = id('a');
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
          expect((await within(store.events.read(a, 1), 'read of an open log')).length).toBe(0);
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 2));
          expect((await store.events.read(a, 1)).map(nOf)).toEqual([2]);
        });

        it('is [] for an unknown task, and only returns that task’s events', async () => {
          const a = id('a');
          const b = id('b');
          await store.events.append(b, statusEvent(b, TaskState.TASK_STATE_WORKING, 9));
          expect(await store.events.read(id('never'), 0)).toEqual([]);
          expect(await store.events.read(a, 0)).toEqual([]);
          expect((await store.events.read(b, 0)).map(nOf)).toEqual([9]);
        });

        it('still returns the events right after close()', async () => {
          const a = id('a');
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_WORKING, 1));
          await store.events.append(a, statusEvent(a, TaskState.TASK_STATE_COMPLETED, 2));
          await store.events.close(a);
          const all = await store.events.read(a, 0);
          expect(all.map((r) => r.seq)).toEqual([1, 2]);
          expect(all[1]?.event).toEqual(statusEvent(a, TaskState.TASK_STATE_COMPLETED, 2));
          expect((await store.events.read(a, 1)).map((r) => r.seq)).toEqual([2]);
          expect(await store.events.read(a, 2)).toEqual([]);
        });
      });
    });

    describe('WorkQueue', () => {
      const payload = (s: string): string => JSON.stringify({ task: s, text: `run ${s}` });
      /** Resolves the next time the queue calls an `onWork` handler. */
      const nextWork = (): Promise<void> => new Promise<void>((resolve) => store.queue.onWork(resolve));
      const taken = async (agents: string[], max = 100): Promise<string[]> =>
        (await store.queue.take(agents, max)).map((w) => w.taskId);

      it('is durable only on a backend that outlives the process', () => {
        expect(store.queue.durable).toBe(store.kind !== 'memory');
      });

      it('lease returns attempt 1 and the task is leased until ack ends it', async () => {
        const t = id('t');
        expect(await store.queue.isLeased(t)).toBe(false);
        expect(await store.queue.lease(t, id('agent'), payload('t'))).toBe(1);
        expect(await store.queue.isLeased(t)).toBe(true);
        await store.queue.ack(t);
        expect(await store.queue.isLeased(t)).toBe(false);
      });

      it('ack of an unknown or already acked task is a no-op', async () => {
        const t = id('t');
        await expect(store.queue.ack(id('never'))).resolves.toBeUndefined();
        await store.queue.lease(t, id('agent'), payload('t'));
        await store.queue.ack(t);
        await expect(store.queue.ack(t)).resolves.toBeUndefined();
        expect(await store.queue.isLeased(t)).toBe(false);
      });

      it('a leased task is not waiting: take does not return it', async () => {
        const agent = id('agent');
        await store.queue.lease(id('t'), agent, payload('t'));
        expect(await store.queue.take([agent], 10)).toEqual([]);
      });

      it('push then take returns the item as pushed, at attempt 1, and leases it', async () => {
        const agent = id('agent');
        const t = id('t');
        await store.queue.push(t, agent, payload('t'), 10);
        expect(await store.queue.isLeased(t)).toBe(false);
        expect(await store.queue.take([agent], 10)).toEqual([
          { taskId: t, payload: payload('t'), attempt: 1 },
        ]);
        expect(await store.queue.isLeased(t)).toBe(true);
        expect(await store.queue.take([agent], 10)).toEqual([]);
        await store.queue.ack(t);
        expect(await store.queue.isLeased(t)).toBe(false);
      });

      it('take returns the oldest first, at most max per call', async () => {
        const agent = id('agent');
        for (const k of ['a', 'b', 'c', 'd']) await store.queue.push(id(k), agent, payload(k), 10);
        const first = await store.queue.take([agent], 2);
        expect(first).toEqual([
          { taskId: id('a'), payload: payload('a'), attempt: 1 },
          { taskId: id('b'), payload: payload('b'), attempt: 1 },
        ]);
        expect(await taken([agent], 1)).toEqual([id('c')]);
        expect(await taken([agent], 5)).toEqual([id('d')]);
        expect(await taken([agent], 5)).toEqual([]);
      });

      it('take with max 0 or no agents takes nothing', async () => {
        const agent = id('agent');
        await store.queue.push(id('a'), agent, payload('a'), 10);
        expect(await store.queue.take([agent], 0)).toEqual([]);
        expect(await store.queue.take([], 10)).toEqual([]);
        expect(await taken([agent])).toEqual([id('a')]);
      });

      it('take only returns tasks of the agents passed to it', async () => {
        const agent = id('agent');
        const other = id('other');
        await store.queue.push(id('a1'), agent, payload('a1'), 10);
        await store.queue.push(id('o1'), other, payload('o1'), 10);
        await store.queue.push(id('a2'), agent, payload('a2'), 10);
        expect(await taken([id('nobody')])).toEqual([]);
        expect(await taken([agent])).toEqual([id('a1'), id('a2')]);
        expect(await taken([other])).toEqual([id('o1')]);
      });

      it('take across several agents returns every waiting task of them, each agent oldest first', async () => {
        const agent = id('agent');
        const other = id('other');
        await store.queue.push(id('a1'), agent, payload('a1'), 10);
        await store.queue.push(id('o1'), other, payload('o1'), 10);
        await store.queue.push(id('a2'), agent, payload('a2'), 10);
        await store.queue.push(id('o2'), other, payload('o2'), 10);
        const items = await taken([agent, other]);
        expect([...items].sort()).toEqual([id('a1'), id('a2'), id('o1'), id('o2')].sort());
        expect(items.filter((t) => t.startsWith(id('a')))).toEqual([id('a1'), id('a2')]);
        expect(items.filter((t) => t.startsWith(id('o')))).toEqual([id('o1'), id('o2')]);
      });

      it('waiting follows pushes and takes on this store', async () => {
        const agent = id('agent');
        expect(store.queue.waiting).toBe(0);
        await store.queue.push(id('a'), agent, payload('a'), 10);
        expect(store.queue.waiting).toBe(1);
        await store.queue.push(id('b'), agent, payload('b'), 10);
        await store.queue.push(id('c'), agent, payload('c'), 10);
        expect(store.queue.waiting).toBe(3);
        await store.queue.take([agent], 2);
        expect(store.queue.waiting).toBe(1);
        await store.queue.take([agent], 2);
        expect(store.queue.waiting).toBe(0);
      });

      it('push beyond maxDepth fails with QUEUE_FULL and does not queue the task', async () => {
        const agent = id('agent');
        await store.queue.push(id('a'), agent, payload('a'), 2);
        await store.queue.push(id('b'), agent, payload('b'), 2);
        const error = await expectCode(store.queue.push(id('c'), agent, payload('c'), 2), 'QUEUE_FULL');
        expect(error.data?.agent).toBe(agent);
        expect(store.queue.waiting).toBe(2);
        expect(await taken([agent])).toEqual([id('a'), id('b')]);
        // The queue has room again once the waiting tasks were taken.
        await store.queue.push(id('c'), agent, payload('c'), 2);
        expect(await taken([agent])).toEqual([id('c')]);
      });

      it('maxDepth counts per agent: a full agent does not refuse another agent’s task', async () => {
        const agent = id('agent');
        const other = id('other');
        await store.queue.push(id('a'), agent, payload('a'), 1);
        await expectCode(store.queue.push(id('b'), agent, payload('b'), 1), 'QUEUE_FULL');
        await store.queue.push(id('o'), other, payload('o'), 1);
        expect(await taken([other])).toEqual([id('o')]);
        expect(await taken([agent])).toEqual([id('a')]);
      });

      it('push with maxDepth 0 always fails with QUEUE_FULL', async () => {
        const agent = id('agent');
        await expectCode(store.queue.push(id('a'), agent, payload('a'), 0), 'QUEUE_FULL');
        expect(await store.queue.take([agent], 10)).toEqual([]);
        expect(store.queue.waiting).toBe(0);
      });

      it('remove of a waiting task returns true and it is no longer taken; of an absent one false', async () => {
        const agent = id('agent');
        await store.queue.push(id('a'), agent, payload('a'), 10);
        await store.queue.push(id('b'), agent, payload('b'), 10);
        await store.queue.push(id('c'), agent, payload('c'), 10);
        expect(await store.queue.remove(id('b'), agent)).toBe(true);
        expect(await store.queue.remove(id('b'), agent)).toBe(false);
        expect(await store.queue.remove(id('never'), agent)).toBe(false);
        expect(await store.queue.remove(id('a'), id('other'))).toBe(false);
        expect(await taken([agent])).toEqual([id('a'), id('c')]);
      });

      it('remove of a task that was already taken returns false and keeps its lease', async () => {
        const agent = id('agent');
        await store.queue.push(id('a'), agent, payload('a'), 10);
        expect(await taken([agent])).toEqual([id('a')]);
        expect(await store.queue.remove(id('a'), agent)).toBe(false);
        expect(await store.queue.isLeased(id('a'))).toBe(true);
      });

      it('requeue puts a leased task at the head of its queue, and its next take is attempt 2', async () => {
        const agent = id('agent');
        const t = id('t');
        expect(await store.queue.lease(t, agent, payload('t'))).toBe(1);
        await store.queue.push(id('older1'), agent, payload('older1'), 10);
        await store.queue.push(id('older2'), agent, payload('older2'), 10);
        await store.queue.requeue(t, true);
        expect(await store.queue.isLeased(t)).toBe(false);
        expect(await store.queue.take([agent], 1)).toEqual([
          { taskId: t, payload: payload('t'), attempt: 2 },
        ]);
        expect(await store.queue.take([agent], 10)).toEqual([
          { taskId: id('older1'), payload: payload('older1'), attempt: 1 },
          { taskId: id('older2'), payload: payload('older2'), attempt: 1 },
        ]);
      });

      it('a task taken, requeued and taken again counts its attempts', async () => {
        const agent = id('agent');
        const t = id('t');
        await store.queue.push(t, agent, payload('t'), 10);
        expect((await store.queue.take([agent], 1))[0]?.attempt).toBe(1);
        await store.queue.requeue(t, true);
        expect((await store.queue.take([agent], 1))[0]?.attempt).toBe(2);
        await store.queue.requeue(t, true);
        expect(await store.queue.take([agent], 1)).toEqual([
          { taskId: t, payload: payload('t'), attempt: 3 },
        ]);
      });

      it('a task taken but handed back before it started keeps its attempt count', async () => {
        const agent = id('agent');
        const t = id('t');
        await store.queue.push(t, agent, payload('t'), 10);
        for (let i = 0; i < 5; i++) {
          expect((await store.queue.take([agent], 1))[0]?.attempt).toBe(1);
          await store.queue.requeue(t, false);
        }
        expect(await store.queue.take([agent], 1)).toEqual([
          { taskId: t, payload: payload('t'), attempt: 1 },
        ]);
        // One real run that did not finish (a hand-off), then an unstarted hand-back: attempt 2 next.
        await store.queue.requeue(t, true);
        expect((await store.queue.take([agent], 1))[0]?.attempt).toBe(2);
        await store.queue.requeue(t, false);
        expect((await store.queue.take([agent], 1))[0]?.attempt).toBe(2);
      });

      it('requeue of a task that is not leased changes nothing', async () => {
        const agent = id('agent');
        await store.queue.requeue(id('never'), true);
        const t = id('t');
        await store.queue.lease(t, agent, payload('t'));
        await store.queue.ack(t);
        await store.queue.requeue(t, true);
        expect(await store.queue.take([agent], 10)).toEqual([]);
        expect(await store.queue.isLeased(t)).toBe(false);
      });

      it('onWork is called after a push', async () => {
        const agent = id('agent');
        // Notifications flow once the store is ready (a Redis replica has subscribed).
        await store.ping();
        const work = nextWork();
        await store.queue.push(id('a'), agent, payload('a'), 10);
        await within(work, 'onWork after push');
        expect(await taken([agent])).toEqual([id('a')]);
      });

      it('onWork is called after a requeue', async () => {
        const agent = id('agent');
        const t = id('t');
        await store.ping();
        await store.queue.lease(t, agent, payload('t'));
        const work = nextWork();
        await store.queue.requeue(t, true);
        await within(work, 'onWork after requeue');
        expect(await taken([agent])).toEqual([t]);
      });

      it('requestCancel reaches the onCancelRequest handlers with the task id', async () => {
        const t = id('t');
        const seen: string[] = [];
        const received = new Promise<string>((resolve) =>
          store.queue.onCancelRequest((taskId) => {
            seen.push(taskId);
            if (taskId === t) resolve(taskId);
          }),
        );
        const second = new Promise<string>((resolve) => store.queue.onCancelRequest(resolve));
        await store.ping();
        await store.queue.lease(t, id('agent'), payload('t'));
        await store.queue.requestCancel(t);
        expect(await within(received, 'cancel request')).toBe(t);
        expect(await within(second, 'cancel request (second handler)')).toBe(t);
        expect(seen).toEqual([t]);
      });
    });

    describe('CheckpointStore', () => {
      it('get of a step never put is undefined', async () => {
        expect(await store.checkpoints.get(id('t'), 'fetch')).toBeUndefined();
      });

      it('put then get returns the json; a second put replaces it', async () => {
        const t = id('t');
        const json = JSON.stringify({ rows: [1, 2, 3], note: 'ünïcødé' });
        await store.checkpoints.put(t, 'fetch', json);
        expect(await store.checkpoints.get(t, 'fetch')).toBe(json);
        expect(await store.checkpoints.get(t, 'summarize')).toBeUndefined();
        await store.checkpoints.put(t, 'fetch', '"again"');
        expect(await store.checkpoints.get(t, 'fetch')).toBe('"again"');
      });

      it('steps are per task', async () => {
        const a = id('a');
        const b = id('b');
        await store.checkpoints.put(a, 'step', '1');
        await store.checkpoints.put(b, 'step', '2');
        await store.checkpoints.put(a, 'other', 'null');
        expect(await store.checkpoints.get(a, 'step')).toBe('1');
        expect(await store.checkpoints.get(b, 'step')).toBe('2');
        expect(await store.checkpoints.get(a, 'other')).toBe('null');
        expect(await store.checkpoints.get(b, 'other')).toBeUndefined();
      });
    });

    describe('MessageLedger', () => {
      it('the first claim records the value; a later claim changes nothing and answers it', async () => {
        const k = id('m1');
        expect(await store.messages.claim(k, 'task-1', 60_000)).toBeUndefined();
        expect(await store.messages.claim(k, 'task-2', 60_000)).toBe('task-1');
        expect(await store.messages.claim(k, 'task-3', 60_000)).toBe('task-1');
      });

      it('of concurrent claims exactly one wins', async () => {
        const k = id('race');
        const answers = await Promise.all(
          [1, 2, 3, 4, 5].map((n) => store.messages.claim(k, `task-${n}`, 60_000)),
        );
        const winners = answers.filter((a) => a === undefined);
        expect(winners).toHaveLength(1);
        const recorded = new Set(answers.filter((a) => a !== undefined));
        expect(recorded.size).toBe(1);
      });

      it('settle replaces the value; release forgets the key', async () => {
        const k = id('m2');
        await store.messages.claim(k, 'task-1', 60_000);
        await store.messages.settle(k, 'reply:{}', 60_000);
        expect(await store.messages.claim(k, 'task-2', 60_000)).toBe('reply:{}');
        await store.messages.release(k);
        expect(await store.messages.claim(k, 'task-3', 60_000)).toBeUndefined();
        expect(await store.messages.claim(k, 'task-4', 60_000)).toBe('task-3');
      });

      it('an entry expires after its ttl', async () => {
        const k = id('m3');
        await store.messages.claim(k, 'task-1', 30);
        await eventually(
          async () => (await store.messages.claim(k, 'task-2', 60_000)) === undefined,
          5000,
          'expiry',
        );
        expect(await store.messages.claim(k, 'task-3', 60_000)).toBe('task-2');
      });
    });

    describe('AgentRegistry', () => {
      const card = (name: string, tags: string[]): RegisteredCard['card'] => ({
        name,
        description: '',
        supportedInterfaces: [
          { url: `http://h/a2a/${name}/`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
        ],
        provider: undefined,
        version: '1',
        documentationUrl: undefined,
        capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
        securitySchemes: {},
        securityRequirements: [],
        defaultInputModes: [],
        defaultOutputModes: [],
        skills: [
          {
            id: `${name}-skill`,
            name,
            description: '',
            tags,
            examples: [],
            inputModes: [],
            outputModes: [],
            securityRequirements: [],
          },
        ],
        signatures: [],
        iconUrl: undefined,
      });
      const entry = (name: string): RegisteredCard => ({
        name,
        cardUrl: `http://h/a2a/${name}/.well-known/agent-card.json`,
        card: card(name, ['t']),
      });
      const mine = async (): Promise<string[]> =>
        (await store.registry.list())
          .filter((a) => a.serverId.startsWith(p))
          .map((a) => `${a.serverId.slice(p.length + 1)}/${a.name}`)
          .sort();

      it('lists every live entry of every server, with its card', async () => {
        await store.registry.register(id('s1'), [entry('echo'), entry('countdown')], 60_000);
        await store.registry.register(id('s2'), [entry('echo')], 60_000);
        expect(await mine()).toEqual(['s1/countdown', 's1/echo', 's2/echo']);
        const echo = (await store.registry.list()).find((a) => a.serverId === id('s2'));
        expect(echo?.card.skills[0]?.id).toBe('echo-skill');
        expect(echo?.cardUrl).toBe('http://h/a2a/echo/.well-known/agent-card.json');
      });

      it('a re-registration replaces the server entries; deregister removes them at once', async () => {
        await store.registry.register(id('s1'), [entry('echo'), entry('countdown')], 60_000);
        await store.registry.register(id('s1'), [entry('echo')], 60_000);
        expect(await mine()).toEqual(['s1/echo']);
        await store.registry.deregister(id('s1'));
        expect(await mine()).toEqual([]);
      });

      it('entries expire when their server stops refreshing them', async () => {
        await store.registry.register(id('gone'), [entry('echo')], 50);
        await store.registry.register(id('alive'), [entry('echo')], 60_000);
        const deadline = Date.now() + 2000;
        while ((await mine()).length !== 1) {
          if (Date.now() > deadline) throw new Error(`entries did not expire: ${(await mine()).join(', ')}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(await mine()).toEqual(['alive/echo']);
      });
    });

    describe('PushConfigStore', () => {
      it('put then get returns the config; unknown ids are undefined', async () => {
        const t = id('t');
        const c = pushConfig(t, 'c1');
        await store.pushConfigs.put(c);
        expect(await store.pushConfigs.get(t, 'c1')).toEqual(c);
        expect(await store.pushConfigs.get(t, 'c2')).toBeUndefined();
        expect(await store.pushConfigs.get(id('other'), 'c1')).toBeUndefined();
      });

      it('put with the same id replaces the config', async () => {
        const t = id('t');
        await store.pushConfigs.put(pushConfig(t, 'c1', 'https://old.example.com/hook'));
        const replacement = pushConfig(t, 'c1', 'https://new.example.com/hook');
        await store.pushConfigs.put(replacement);
        expect(await store.pushConfigs.get(t, 'c1')).toEqual(replacement);
        expect(await store.pushConfigs.list(t)).toEqual([replacement]);
      });

      it('list returns every config of the task and only of that task', async () => {
        const t = id('t');
        const other = id('other');
        await store.pushConfigs.put(pushConfig(t, 'c1'));
        await store.pushConfigs.put(pushConfig(t, 'c2'));
        await store.pushConfigs.put(pushConfig(other, 'c3'));
        const listed = await store.pushConfigs.list(t);
        expect([...listed].sort((x, y) => x.id.localeCompare(y.id))).toEqual([
          pushConfig(t, 'c1'),
          pushConfig(t, 'c2'),
        ]);
        expect(await store.pushConfigs.list(other)).toEqual([pushConfig(other, 'c3')]);
        expect(await store.pushConfigs.list(id('none'))).toEqual([]);
      });

      it('delete removes one config and reports whether it existed', async () => {
        const t = id('t');
        await store.pushConfigs.put(pushConfig(t, 'c1'));
        await store.pushConfigs.put(pushConfig(t, 'c2'));
        expect(await store.pushConfigs.delete(t, 'c1')).toBe(true);
        expect(await store.pushConfigs.delete(t, 'c1')).toBe(false);
        expect(await store.pushConfigs.delete(id('none'), 'c1')).toBe(false);
        expect(await store.pushConfigs.get(t, 'c1')).toBeUndefined();
        expect(await store.pushConfigs.list(t)).toEqual([pushConfig(t, 'c2')]);
        expect(await store.pushConfigs.delete(t, 'c2')).toBe(true);
        expect(await store.pushConfigs.list(t)).toEqual([]);
      });
    });
  });
}
