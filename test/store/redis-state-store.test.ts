import { Role, TaskState } from '@a2a-js/sdk';
import type { StreamResponse, Task } from '@a2a-js/sdk';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RetentionPolicy, StoredTask } from '../../src/store/ports.js';
import { RedisStateStore } from '../../src/store/redis/redis-state-store.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { eventually } from '../helpers/server.js';
import { storeConformance } from './conformance.js';
import { ownerConformance } from './owner-conformance.js';

let redis: RedisProcess;
// The first run on a fresh machine may install redis-server from Debian: allow for it.
beforeAll(async () => {
  redis = await startRedis();
}, 300_000);
afterAll(async () => {
  await redis?.stop();
});

const store = (
  retention: RetentionPolicy = { ttlMs: 3_600_000, maxTerminalTasks: 10_000 },
): RedisStateStore =>
  new RedisStateStore({
    url: redis.url,
    keyPrefix: `agentd-test-${randomUUID().slice(0, 8)}:`,
    retention,
    sweepIntervalMs: 3_600_000,
  });

storeConformance('redis', async () => store());
ownerConformance('redis', async () => store());

function task(id: string, state: TaskState): Task {
  return {
    id,
    contextId: 'ctx',
    status: { state, message: undefined, timestamp: new Date(1_700_000_000_000).toISOString() },
    artifacts: [],
    history: [
      {
        messageId: `m-${id}`,
        contextId: 'ctx',
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

const statusEvent = (id: string): StreamResponse => ({
  payload: {
    $case: 'statusUpdate',
    value: {
      taskId: id,
      contextId: 'ctx',
      status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: undefined },
      metadata: undefined,
    },
  },
});

describe('RedisStateStore retention', () => {
  let s: RedisStateStore;
  afterEach(async () => {
    await s.close();
  });

  /** Creates a task and finishes it, with one event and one push config. */
  async function finish(id: string, updatedAt: number): Promise<void> {
    const base: Omit<StoredTask, 'version'> = {
      task: task(id, TaskState.TASK_STATE_WORKING),
      agent: 'a',
      tenant: '',
      lastSeq: 0,
      updatedAt,
    };
    await s.tasks.create(base);
    await s.events.append(id, statusEvent(id));
    await s.pushConfigs.put({
      tenant: '',
      id: 'p',
      taskId: id,
      url: 'http://127.0.0.1:1/hook',
      token: '',
      authentication: undefined,
    });
    await s.tasks.save(
      { ...base, task: task(id, TaskState.TASK_STATE_COMPLETED), lastSeq: 1, updatedAt: updatedAt + 1 },
      1,
    );
  }

  it('keeps at most maxTerminalTasks finished tasks, evicting the oldest with its events, push configs and index entries', async () => {
    s = store({ ttlMs: 3_600_000, maxTerminalTasks: 2 });
    for (const [i, id] of ['t1', 't2', 't3'].entries()) await finish(id, 1000 + i * 10);
    // The cap is enforced off the request path: every 32 finishes, and by each sweep.
    expect(await s.tasks.get('t1')).toBeDefined();
    expect(await s.tasks.sweep()).toBe(1);
    expect(await s.tasks.get('t1')).toBeUndefined();
    expect(await s.pushConfigs.list('t1')).toEqual([]);
    expect((await s.tasks.get('t3'))?.task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const page = await s.tasks.list({ agent: 'a', tenant: '', pageSize: 10, pageToken: '' });
    expect(page.tasks.map((t) => t.task.id)).toEqual(['t3', 't2']);
    expect(page.totalSize).toBe(2);
  });

  it('enforces the cap by itself every 32 finished tasks, without a sweep', async () => {
    s = store({ ttlMs: 3_600_000, maxTerminalTasks: 5 });
    for (let i = 0; i < 32; i++) await finish(`n${i}`, 1000 + i);
    // The trim runs in the background after the 32nd finish: there is no event to await.
    await eventually(
      async () => (await s.tasks.get('n26')) === undefined,
      5000,
      'the trim after 32 finishes',
    );
    expect(await s.tasks.get('n27')).toBeDefined();
    const page = await s.tasks.list({ agent: 'a', tenant: '', pageSize: 100, pageToken: '' });
    expect(page.totalSize).toBe(5);
  });

  it('sweep(now) evicts finished tasks older than the TTL and keeps the rest', async () => {
    s = store({ ttlMs: 60_000, maxTerminalTasks: 100 });
    await finish('old', 1000);
    await s.tasks.create({
      task: task('live', TaskState.TASK_STATE_WORKING),
      agent: 'a',
      tenant: '',
      lastSeq: 0,
      updatedAt: 5,
    });
    expect(await s.tasks.sweep(Date.now() + 30_000)).toBe(0);
    expect(await s.tasks.sweep(Date.now() + 61_000)).toBe(1);
    expect(await s.tasks.get('old')).toBeUndefined();
    expect(await s.tasks.get('live')).toBeDefined();
    const page = await s.tasks.list({ agent: 'a', tenant: '', pageSize: 10, pageToken: '' });
    expect(page.tasks.map((t) => t.task.id)).toEqual(['live']);
  });
});

describe('RedisStateStore under re-sent commands (a connection dropped before the reply)', () => {
  let s: RedisStateStore;
  afterEach(async () => {
    await s.close();
  });

  it('an identical create or save re-sent after it succeeded succeeds again and changes nothing', async () => {
    s = store();
    const base: Omit<StoredTask, 'version'> = {
      task: task('replayed', TaskState.TASK_STATE_WORKING),
      agent: 'a',
      tenant: '',
      lastSeq: 0,
      updatedAt: 10,
    };
    expect((await s.tasks.create(base)).version).toBe(1);
    expect((await s.tasks.create(base)).version).toBe(1);
    const next = {
      ...base,
      task: task('replayed', TaskState.TASK_STATE_COMPLETED),
      lastSeq: 1,
      updatedAt: 11,
    };
    expect((await s.tasks.save(next, 1)).version).toBe(2);
    expect((await s.tasks.save(next, 1)).version).toBe(2);
    expect((await s.tasks.get('replayed'))?.version).toBe(2);
    // A different write at a stale version is still a conflict.
    await expect(s.tasks.save({ ...next, updatedAt: 12 }, 1)).rejects.toMatchObject({
      code: 'TASK_CONFLICT',
    });
  });

  it('an append re-sent with the sequence it got is recorded once; a different event at that sequence is appended', async () => {
    s = store();
    expect(await s.events.append('r', statusEvent('r'), 1)).toBe(1);
    expect(await s.events.append('r', statusEvent('r'), 1)).toBe(1);
    const other: StreamResponse = {
      payload: { $case: 'message', value: task('r', TaskState.TASK_STATE_COMPLETED).history[0]! },
    };
    expect(await s.events.append('r', other, 1)).toBe(2);
    await s.events.close('r');
    const seqs: number[] = [];
    for await (const r of s.events.follow('r', 0, new AbortController().signal)) seqs.push(r.seq);
    expect(seqs).toEqual([1, 2]);
  });
});

describe('RedisWorkQueue leases across replicas (one Redis, one keyPrefix)', () => {
  const replicas: RedisStateStore[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close();
  });

  /** A replica sharing `keyPrefix` with the others of the test, with short leases. */
  const replica = (keyPrefix: string, leaseMs: number): RedisStateStore => {
    const r = new RedisStateStore({
      url: redis.url,
      keyPrefix,
      retention: { ttlMs: 3_600_000, maxTerminalTasks: 10_000 },
      sweepIntervalMs: 3_600_000,
      leaseMs,
      recoverEveryMs: 50,
    });
    replicas.push(r);
    return r;
  };
  const prefix = (): string => `agentd-test-${randomUUID().slice(0, 8)}:`;

  it('a lease its replica stopped renewing lapses, and another replica takes the task over as attempt 2', async () => {
    const keyPrefix = prefix();
    const a = replica(keyPrefix, 300);
    const b = replica(keyPrefix, 300);
    await b.ping();
    const payload = JSON.stringify({ agent: 'echo', text: 'survive me' });
    expect(await a.queue.lease('t1', 'echo', payload)).toBe(1);
    expect(await b.queue.isLeased('t1')).toBe(true);
    // Replica A dies: no more renewals (close() neither acks nor requeues).
    await a.close();

    // B's recovery moves the lapsed lease back to the queue and announces it on the
    // work channel: wait for those notifications and take until the task shows up.
    let wake: () => void = () => {};
    b.queue.onWork(() => wake());
    const deadline = Date.now() + 5000;
    let items = await b.queue.take(['echo'], 10);
    while (items.length === 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('the lapsed lease was not taken over');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      items = await b.queue.take(['echo'], 10);
    }
    expect(items).toEqual([{ taskId: 't1', attempt: 2, payload }]);
    expect(await b.queue.isLeased('t1')).toBe(true);
  });

  it('a live replica renews its lease: after several lease times no other replica can take the task', async () => {
    const keyPrefix = prefix();
    const leaseMs = 600;
    const a = replica(keyPrefix, leaseMs);
    const b = replica(keyPrefix, leaseMs);
    let lost: string[] = [];
    a.queue.onLost((ids) => (lost = [...lost, ...ids]));
    const payload = JSON.stringify({ agent: 'echo', text: 'still mine' });
    expect(await a.queue.lease('t1', 'echo', payload)).toBe(1);
    // Nothing happens while renewals work, so there is no event to await: a bounded
    // wait of three lease times (during which B's recovery ran ~36 times) shows the
    // lease did not lapse.
    await new Promise((r) => setTimeout(r, 3 * leaseMs));
    expect(await b.queue.take(['echo'], 10)).toEqual([]);
    expect(await b.queue.isLeased('t1')).toBe(true);
    expect(lost).toEqual([]);
    // Acked by its holder, the task is gone for good, not taken over later.
    await a.queue.ack('t1');
    expect(await b.queue.isLeased('t1')).toBe(false);
    expect(await b.queue.take(['echo'], 10)).toEqual([]);
  });

  it('a replica whose lease another replica took over (it was cut off too long) is told, at its next renewal', async () => {
    const keyPrefix = prefix();
    const a = replica(keyPrefix, 300);
    const lostSeen = new Promise<string[]>((resolve) => a.queue.onLost(resolve));
    expect(await a.queue.lease('t1', 'echo', '{}')).toBe(1);
    // What a takeover leaves in Redis while A was unreachable: the lease now names another replica.
    const admin = new Redis(redis.url);
    const work = `${keyPrefix}{q}:work`;
    const entry = (await admin.hget(work, 't1')) ?? '';
    await admin.hset(work, 't1', entry.replace(/^[^\n]*/, 'the-replica-that-took-over'));
    admin.disconnect();
    expect(await lostSeen).toEqual(['t1']);
    // It no longer holds it: its ack leaves the other replica's lease alone.
    await a.queue.ack('t1');
    expect(await a.queue.isLeased('t1')).toBe(true);
  });

  it('ack and requeue by a replica that does not hold the lease change nothing', async () => {
    const keyPrefix = prefix();
    const a = replica(keyPrefix, 30_000);
    const b = replica(keyPrefix, 30_000);
    await a.queue.lease('t1', 'echo', '{}');
    await b.queue.ack('t1');
    await b.queue.requeue('t1', true);
    expect(await a.queue.isLeased('t1')).toBe(true);
    expect(await b.queue.take(['echo'], 10)).toEqual([]);
  });

  it('a task pushed on one replica is taken on another, which is notified of it', async () => {
    const keyPrefix = prefix();
    const a = replica(keyPrefix, 30_000);
    const b = replica(keyPrefix, 30_000);
    await b.ping();
    const work = new Promise<void>((resolve) => b.queue.onWork(resolve));
    await a.queue.push('t1', 'echo', '{"n":1}', 10);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      work,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no onWork on B')), 2000))),
    ]).finally(() => clearTimeout(timer));
    expect(await b.queue.take(['echo'], 10)).toEqual([{ taskId: 't1', attempt: 1, payload: '{"n":1}' }]);
    expect(b.queue.waiting).toBe(0);
    expect(await a.queue.take(['echo'], 10)).toEqual([]);
  });

  it('requestCancel on one replica reaches the replica holding the lease', async () => {
    const keyPrefix = prefix();
    const a = replica(keyPrefix, 30_000);
    const b = replica(keyPrefix, 30_000);
    await a.ping();
    const received = new Promise<string>((resolve) => a.queue.onCancelRequest(resolve));
    await a.queue.lease('t1', 'echo', '{}');
    await b.queue.requestCancel('t1');
    let timer: NodeJS.Timeout | undefined;
    const taskId = await Promise.race([
      received,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error('no cancel on A')), 2000)),
      ),
    ]).finally(() => clearTimeout(timer));
    expect(taskId).toBe('t1');
  });
});
