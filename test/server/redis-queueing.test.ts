/**
 * Replicas under a burst larger than their workers, with no replica stopping: tasks wait
 * in the shared queue and every one completes. A task taken from the queue when its
 * replica had no slot left any more goes back without counting an attempt, so nothing is
 * "taken over" and nothing ends FAILED for attempts it never made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { messageJson, rpc, type Json } from '../helpers/wire.js';

const TASKS = 600;
const IN_FLIGHT = 90;

describe('replicas queueing a burst on one Redis', () => {
  let redis: RedisProcess;
  const replicas: TestServer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i++) {
      replicas.push(
        await startServer({
          agents: [{ name: 'countdown', kind: 'countdown', stepMs: 2, default: true }],
          store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'queueing-test:' } },
          // Few workers and one attempt: a single spurious attempt would show as FAILED.
          execution: { maxConcurrentWorkflows: 3, maxQueueDepth: 10_000, maxAttempts: 1 },
          logging: { level: 'info' },
        }),
      );
    }
  }, 300_000);
  afterAll(async () => {
    for (const r of replicas) await r.close();
    await redis?.stop();
  });

  it(`${TASKS} tasks sent to three replicas with three workers each all complete, none taken over`, async () => {
    const ids: string[] = [];
    let next = 0;
    const sendOne = async (): Promise<void> => {
      while (next < TASKS) {
        const n = next++;
        const replica = replicas[n % replicas.length] as TestServer;
        // Half wait for their answer (blocking sends follow the task wherever it runs).
        const res = await rpc(replica.url, 'countdown', 'SendMessage', {
          message: messageJson('count to 2'),
          configuration: { returnImmediately: n % 2 === 0 },
        });
        const task = (res.json as Json)?.result?.task;
        if (res.status !== 200 || !task?.id) throw new Error(`send ${n} answered ${res.status}: ${res.text}`);
        ids.push(task.id as string);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, sendOne));

    const states = new Map<string, number>();
    const attempts: string[] = [];
    for (const id of ids) {
      let task: Json;
      for (;;) {
        const res = await rpc((replicas[0] as TestServer).url, 'countdown', 'GetTask', { id });
        task = (res.json as Json).result;
        const state = task?.status?.state as string | undefined;
        if (state === 'TASK_STATE_COMPLETED' || state === 'TASK_STATE_FAILED') break;
        await new Promise((r) => setTimeout(r, 20)); // still queued or running elsewhere
      }
      const state = task.status.state as string;
      states.set(state, (states.get(state) ?? 0) + 1);
      if (task.metadata?.['agentd.attempt'] !== undefined) attempts.push(id);
    }
    expect(Object.fromEntries(states)).toEqual({ TASK_STATE_COMPLETED: TASKS });
    expect(attempts).toEqual([]);
    const takeovers = replicas.flatMap((r) =>
      r.logs.filter((l) => l.msg === 'taking over a task whose replica stopped'),
    );
    expect(takeovers).toEqual([]);
  }, 120_000);
});
