/**
 * Conformance cases for task ownership in the storage ports: the owner kept with the task,
 * ListTasks per owner (filters, pagination, counts) and the per-owner in-flight quota.
 * Every StateStore runs them unchanged, like `conformance.ts`.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { Task } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StateStore, StoredTask, TaskQuery } from '../../src/store/ports.js';

function task(id: string, contextId: string, state: TaskState): Task {
  return {
    id,
    contextId,
    status: { state, message: undefined, timestamp: new Date(1_700_000_000_000).toISOString() },
    artifacts: [],
    history: [
      {
        messageId: `m-${id}`,
        contextId,
        taskId: id,
        role: Role.ROLE_USER,
        parts: [
          { content: { $case: 'text', value: 'hi' }, metadata: undefined, filename: '', mediaType: '' },
        ],
        metadata: undefined,
        extensions: [],
        referenceTaskIds: [],
      },
    ],
    metadata: undefined,
  };
}

export function ownerConformance(name: string, make: () => Promise<StateStore>): void {
  describe(`StateStore ownership conformance: ${name}`, () => {
    let store: StateStore;
    let agent: string;
    let p: string;
    const id = (s: string): string => `${p}-${s}`;
    const record = (
      s: string,
      owner: string | undefined,
      o: { updatedAt?: number; ctx?: string; state?: TaskState } = {},
    ): Omit<StoredTask, 'version'> => ({
      task: task(id(s), o.ctx ?? 'ctx', o.state ?? TaskState.TASK_STATE_WORKING),
      agent,
      tenant: '',
      owner,
      lastSeq: 0,
      updatedAt: o.updatedAt ?? 1000,
    });
    const query = (extra: Partial<TaskQuery> = {}): TaskQuery => ({
      agent,
      tenant: '',
      pageSize: 100,
      pageToken: '',
      ...extra,
    });
    const ids = (tasks: StoredTask[]): string[] => tasks.map((t) => t.task.id);

    beforeEach(async () => {
      store = await make();
      p = randomUUID().slice(0, 8);
      agent = `agent-${p}`;
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps the owner with the task through create and save', async () => {
      await store.tasks.create(record('a', 'alice'));
      expect((await store.tasks.get(id('a')))?.owner).toBe('alice');
      await store.tasks.save(
        record('a', 'alice', { state: TaskState.TASK_STATE_COMPLETED, updatedAt: 2000 }),
        1,
      );
      expect((await store.tasks.get(id('a')))?.owner).toBe('alice');
      await store.tasks.save(record('b', 'bob'), 0);
      expect((await store.tasks.get(id('b')))?.owner).toBe('bob');
      await store.tasks.create(record('c', undefined));
      expect((await store.tasks.get(id('c')))?.owner ?? '').toBe('');
    });

    it('lists only the owner’s tasks; without an owner, everyone’s; unowned tasks belong to nobody', async () => {
      await store.tasks.create(record('a1', 'alice', { updatedAt: 3000 }));
      await store.tasks.create(record('b1', 'bob', { updatedAt: 2000 }));
      await store.tasks.create(record('a2', 'alice', { updatedAt: 1000 }));
      await store.tasks.create(record('u1', undefined, { updatedAt: 500 }));
      const alice = await store.tasks.list(query({ owner: 'alice' }));
      expect(ids(alice.tasks)).toEqual([id('a1'), id('a2')]);
      expect(alice.totalSize).toBe(2);
      expect(ids((await store.tasks.list(query({ owner: 'bob' }))).tasks)).toEqual([id('b1')]);
      expect((await store.tasks.list(query({ owner: 'carol' }))).totalSize).toBe(0);
      expect((await store.tasks.list(query({ owner: '' }))).tasks).toEqual([]);
      const all = await store.tasks.list(query());
      expect(ids(all.tasks)).toEqual([id('a1'), id('b1'), id('a2'), id('u1')]);
    });

    it('pages one owner’s tasks with cursors that skip nobody and show nobody else’s', async () => {
      for (let i = 0; i < 7; i++) {
        await store.tasks.create(record(`a${i}`, 'alice', { updatedAt: 1000 + i * 10 }));
        await store.tasks.create(record(`b${i}`, 'bob', { updatedAt: 1005 + i * 10 }));
      }
      const seen: string[] = [];
      let pageToken = '';
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.tasks.list(query({ owner: 'alice', pageSize: 3, pageToken }));
        expect(page.totalSize).toBe(7);
        seen.push(...ids(page.tasks));
        pageToken = page.nextPageToken;
        if (!pageToken) break;
      }
      expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => id(`a${i}`)));
    });

    it('filters one owner’s tasks by context and state, and follows a state change', async () => {
      await store.tasks.create(record('a1', 'alice', { ctx: 'x' }));
      await store.tasks.create(record('a2', 'alice', { ctx: 'y', updatedAt: 900 }));
      await store.tasks.create(record('b1', 'bob', { ctx: 'x' }));
      expect(ids((await store.tasks.list(query({ owner: 'alice', contextId: 'x' }))).tasks)).toEqual([
        id('a1'),
      ]);
      const done = record('a2', 'alice', {
        ctx: 'y',
        state: TaskState.TASK_STATE_COMPLETED,
        updatedAt: 2000,
      });
      await store.tasks.save(done, 1, record('a2', 'alice', { ctx: 'y', updatedAt: 900 }));
      const completed = await store.tasks.list(
        query({ owner: 'alice', state: TaskState.TASK_STATE_COMPLETED }),
      );
      expect(ids(completed.tasks)).toEqual([id('a2')]);
      expect(completed.totalSize).toBe(1);
      const working = await store.tasks.list(query({ owner: 'alice', state: TaskState.TASK_STATE_WORKING }));
      expect(ids(working.tasks)).toEqual([id('a1')]);
      expect(
        ids(
          (
            await store.tasks.list(
              query({ owner: 'alice', contextId: 'y', state: TaskState.TASK_STATE_COMPLETED }),
            )
          ).tasks,
        ),
      ).toEqual([id('a2')]);
    });

    it('a deleted task leaves its owner’s listing', async () => {
      await store.tasks.create(record('a1', 'alice'));
      await store.tasks.create(record('a2', 'alice', { updatedAt: 900 }));
      await store.tasks.delete(id('a1'));
      const page = await store.tasks.list(query({ owner: 'alice' }));
      expect(ids(page.tasks)).toEqual([id('a2')]);
      expect(page.totalSize).toBe(1);
    });

    describe('OwnerQuota', () => {
      it('counts up to the limit per owner, a task once, and frees a place on release', async () => {
        const alice = `alice-${p}`;
        expect(await store.quotas.acquire(alice, id('1'), 2)).toBe(true);
        expect(await store.quotas.acquire(alice, id('1'), 2)).toBe(true);
        expect(await store.quotas.acquire(alice, id('2'), 2)).toBe(true);
        expect(await store.quotas.acquire(alice, id('3'), 2)).toBe(false);
        // The same task counted again at the cap is still counted (idempotent, not refused).
        expect(await store.quotas.acquire(alice, id('2'), 2)).toBe(true);
        expect(await store.quotas.acquire(`bob-${p}`, id('3'), 2)).toBe(true);
        expect((await store.quotas.counted(alice)).map((c) => c.taskId).sort()).toEqual([id('1'), id('2')]);
        await store.quotas.release(alice, id('1'));
        await store.quotas.release(alice, id('1'));
        await store.quotas.release(alice, id('never'));
        expect(await store.quotas.acquire(alice, id('3'), 2)).toBe(true);
        expect(await store.quotas.acquire(alice, id('4'), 2)).toBe(false);
      });

      it('records when each task was counted', async () => {
        const before = Date.now();
        await store.quotas.acquire(`carol-${p}`, id('1'), 5);
        const [counted] = await store.quotas.counted(`carol-${p}`);
        expect(counted?.taskId).toBe(id('1'));
        expect(counted?.since).toBeGreaterThanOrEqual(before - 1000);
        expect(counted?.since).toBeLessThanOrEqual(Date.now() + 1000);
      });

      it('under concurrent acquires never counts more than the limit', async () => {
        const dave = `dave-${p}`;
        const got = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.quotas.acquire(dave, id(String(i)), 3)),
        );
        expect(got.filter(Boolean)).toHaveLength(3);
        expect(await store.quotas.counted(dave)).toHaveLength(3);
      });
    });
  });
}
