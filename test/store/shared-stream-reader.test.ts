/**
 * Stream followers on Redis share blocking connections: hundreds of open streams hold a
 * couple of Redis connections (counted by the server: CLIENT LIST), every follower gets
 * exactly its own events in order, a follower that does not read falls back to the stream
 * without losing or repeating anything, and a follower joining late catches up first.
 */
import { StreamResponse, TaskState } from '@a2a-js/sdk';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEventRecord } from '../../src/store/ports.js';
import { RedisStateStore } from '../../src/store/redis/redis-state-store.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';

let redis: RedisProcess;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
}, 300_000);
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

const store = (shared: boolean): RedisStateStore =>
  new RedisStateStore({
    url: redis.url,
    keyPrefix: `shared-${randomUUID().slice(0, 8)}:`,
    retention: { ttlMs: 3_600_000, maxTerminalTasks: 10_000 },
    sweepIntervalMs: 3_600_000,
    sharedStreamReader: shared,
  });

function status(taskId: string, n: number): StreamResponse {
  return {
    payload: {
      $case: 'statusUpdate',
      value: {
        taskId,
        contextId: 'c',
        status: {
          state: TaskState.TASK_STATE_WORKING,
          message: undefined,
          timestamp: `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}Z`,
        },
        metadata: { n },
      },
    },
  };
}

const nOf = (r: TaskEventRecord): unknown =>
  r.event.payload?.$case === 'statusUpdate' ? r.event.payload.value.metadata?.n : undefined;

async function clients(): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list.trim().split('\n').length;
}

/** Reads `count` records from a follower. */
async function take(it: AsyncIterator<TaskEventRecord>, count: number): Promise<TaskEventRecord[]> {
  const out: TaskEventRecord[] = [];
  while (out.length < count) {
    const r = await it.next();
    if (r.done) throw new Error(`follower ended after ${out.length} of ${count}`);
    out.push(r.value);
  }
  return out;
}

describe('shared stream readers', () => {
  it('300 open streams hold two connections, and each follower gets its own events in order', async () => {
    const s = store(true);
    const before = await clients();
    const controller = new AbortController();
    const ids = Array.from({ length: 300 }, () => randomUUID());
    const followers = ids.map((id) => s.events.follow(id, 0, controller.signal)[Symbol.asyncIterator]());
    const reading = followers.map((it) => take(it, 3));
    // Followers start reading on the first next(): give the readers a moment to block on all streams.
    for (const [i, id] of ids.entries()) await s.events.appendAll(id, [status(id, i), status(id, i + 1)], 1);
    for (const [i, id] of ids.entries()) await s.events.append(id, status(id, i + 2), 3);
    const got = await Promise.all(reading);
    got.forEach((records, i) => {
      expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
      expect(records.map(nOf)).toEqual([i, i + 1, i + 2]);
    });
    // One command connection and its subscriber, plus ceil(300 / 256) = 2 readers.
    expect((await clients()) - before).toBeLessThanOrEqual(4);
    expect(s.events.followerConnections()).toBe(2);
    controller.abort();
    await Promise.all(followers.map((it) => it.return?.()));
    expect(s.events.followerConnections()).toBe(0);
    await s.close();
  }, 60_000);

  it('a follower that does not read falls back to the stream: nothing lost, nothing twice', async () => {
    const s = store(true);
    const id = randomUUID();
    const controller = new AbortController();
    const it = s.events.follow(id, 0, controller.signal)[Symbol.asyncIterator]();
    const first = await (async () => {
      const pending = it.next();
      await s.events.append(id, status(id, 0), 1);
      return pending;
    })();
    expect(first.value?.seq).toBe(1);
    // 2,500 more events while the follower reads nothing: more than its buffer holds.
    for (let i = 1; i < 2500; i += 100)
      await s.events.appendAll(
        id,
        Array.from({ length: 100 }, (_, j) => status(id, i + j)),
        i + 1,
      );
    const rest = await take(it, 2499);
    expect(rest.map((r) => r.seq)).toEqual(Array.from({ length: 2499 }, (_, i) => i + 2));
    controller.abort();
    await it.return?.();
    await s.close();
  }, 60_000);

  it('a late follower of a busy stream catches up, then follows live; close ends both', async () => {
    const s = store(true);
    const id = randomUUID();
    const controller = new AbortController();
    const early = s.events.follow(id, 0, controller.signal)[Symbol.asyncIterator]();
    const earlyReading = take(early, 6);
    await s.events.appendAll(id, [status(id, 1), status(id, 2), status(id, 3)], 1);
    const late = s.events.follow(id, 1, controller.signal)[Symbol.asyncIterator]();
    const lateReading = take(late, 5);
    await s.events.appendAll(id, [status(id, 4), status(id, 5), status(id, 6)], 4);
    expect((await earlyReading).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await lateReading).map((r) => r.seq)).toEqual([2, 3, 4, 5, 6]);
    await s.events.close(id);
    expect((await early.next()).done).toBe(true);
    expect((await late.next()).done).toBe(true);
    await s.close();
  }, 60_000);

  it('without sharing, each open stream holds its own connection', async () => {
    const s = store(false);
    const controller = new AbortController();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const followers = ids.map((id) => s.events.follow(id, 0, controller.signal)[Symbol.asyncIterator]());
    const reading = followers.map((it) => take(it, 1));
    for (const id of ids) await s.events.append(id, status(id, 0), 1);
    await Promise.all(reading);
    expect(s.events.followerConnections()).toBe(20);
    controller.abort();
    await Promise.all(followers.map((it) => it.return?.()));
    await s.close();
  });
});
