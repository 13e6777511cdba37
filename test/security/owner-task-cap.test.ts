/**
 * The per-principal cap (`execution.maxTasksPerPrincipal`): a principal with that many
 * tasks in flight — submitted or working, on any replica — gets TOO_MANY_TASKS (retryable)
 * for a new one, and nothing is created. Its place frees when a task comes to rest
 * (completed, failed, canceled, or waiting for input), also when another replica finished
 * the task, and a count a dead replica left behind is repaired. The open mode's anonymous
 * caller is not capped.
 */
import { TaskState } from '@a2a-js/sdk';
import type { Task } from '@a2a-js/sdk';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentdError } from '../../src/errors.js';
import type { TaskEngine } from '../../src/engine/task-engine.js';
import type { Principal } from '../../src/security/principal.js';
import { asTask, messageRequest } from '../helpers/interop.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { ALICE, BOB, ROOT, as, failure, listRequest, reachesState } from './principals.js';

const THROWING = resolve('test/fixtures/throwing-agent.mjs');
const AGENTS = [
  { name: 'countdown', kind: 'countdown', stepMs: 20, default: true },
  { name: 'echo', kind: 'echo' },
  { name: 'thrower', kind: 'module', module: THROWING },
  { name: 'nopush', kind: 'echo', pushNotifications: false },
];
const CAP = 2;

/** The catalogue error a refused call fails with. */
async function refusal(promise: Promise<unknown>): Promise<AgentdError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AgentdError);
    return error as AgentdError;
  }
  throw new Error('expected the call to be refused, but it succeeded');
}

describe.each(['memory', 'redis'] as const)('the per-principal task cap on the %s store', (backend) => {
  let redis: RedisProcess | undefined;
  let a: TestServer;
  let b: TestServer;
  let onA: TaskEngine;
  let onB: TaskEngine;

  beforeAll(async () => {
    const base = { agents: AGENTS, execution: { maxTasksPerPrincipal: CAP } };
    if (backend === 'redis') {
      redis = await startRedis();
      const config = {
        ...base,
        store: { kind: 'redis', redis: { url: redis.url, keyPrefix: `cap-${randomUUID().slice(0, 8)}:` } },
      };
      a = await startServer(config);
      b = await startServer(config);
    } else {
      a = b = await startServer(base);
    }
    onA = a.server.engine;
    onB = b.server.engine;
  }, 300_000);
  afterAll(async () => {
    await a?.close();
    if (b !== a) await b?.close();
    await redis?.stop();
  });

  const start = async (
    engine: TaskEngine,
    who: Principal | undefined,
    text: string,
    contextId?: string,
  ): Promise<Task> =>
    asTask(
      await engine.sendMessage(
        engine.agent('countdown'),
        messageRequest(text, { returnImmediately: true, ...(contextId ? { contextId } : {}) }),
        as(who),
      ),
    );
  const cancel = (engine: TaskEngine, who: Principal, id: string): Promise<Task> =>
    engine.cancelTask(engine.agent('countdown'), { tenant: '', id, metadata: undefined }, as(who));

  it('over the cap, across replicas: TOO_MANY_TASKS (retryable), nothing created; others are not held back', async () => {
    const contextId = randomUUID();
    const running = [
      await start(onA, ALICE, 'count to 3000', contextId),
      await start(onB, ALICE, 'count to 3000', contextId),
    ];
    const refused = await refusal(start(onB, ALICE, 'count to 3000', contextId));
    expect(refused.code).toBe('TOO_MANY_TASKS');
    expect(refused.retryable).toBe(true);
    expect(refused.httpStatus).toBe(429);
    const streamed = onA.sendMessageStream(
      onA.agent('countdown'),
      messageRequest('count to 3', { contextId }),
      as(ALICE),
    );
    expect((await refusal(streamed.next())).code).toBe('TOO_MANY_TASKS');
    // Nothing of the refused tasks was created.
    const listed = await onB.listTasks(onB.agent('countdown'), listRequest(contextId), as(ALICE));
    expect(listed.tasks.map((t) => t.id).sort()).toEqual(running.map((t) => t.id).sort());
    // Another principal, and the open mode's anonymous caller, are not held back by Alice's count.
    const bobs = await start(onA, BOB, 'count to 3000');
    const anonymous = await Promise.all([1, 2, 3].map(() => start(onB, undefined, 'count to 3000')));
    for (const t of anonymous) await cancel(onA, ROOT, t.id);
    await cancel(onA, BOB, bobs.id);
    // A canceled task frees its place at once, on any replica.
    await cancel(onB, ALICE, running[0]?.id ?? '');
    const third = await start(onB, ALICE, 'count to 3000', contextId);
    expect((await refusal(start(onA, ALICE, 'count to 3000'))).code).toBe('TOO_MANY_TASKS');
    await cancel(onA, ALICE, third.id);
    await cancel(onA, ALICE, running[1]?.id ?? '');
  });

  it('completed and failed tasks free their places', async () => {
    for (let i = 0; i < CAP + 3; i++) {
      const done = asTask(await onA.sendMessage(onA.agent('echo'), messageRequest(`hi ${i}`), as(ALICE)));
      expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    }
    for (let i = 0; i < CAP + 1; i++) {
      const failed = asTask(
        await onB.sendMessage(onB.agent('thrower'), messageRequest(`boom ${i}`), as(ALICE)),
      );
      expect(failed.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    }
    // Streamed and finished on the other replica: free as well.
    const stream = onB.sendMessageStream(onB.agent('countdown'), messageRequest('count to 2'), as(ALICE));
    for await (const record of stream) void record;
    const full = [await start(onA, ALICE, 'count to 3000'), await start(onB, ALICE, 'count to 3000')];
    expect((await refusal(start(onA, ALICE, 'count to 3000'))).code).toBe('TOO_MANY_TASKS');
    for (const t of full) await cancel(onB, ALICE, t.id);
  });

  it('a task waiting for input frees its place; its follow-up counts again and is refused over the cap', async () => {
    const asking = [
      await start(onA, ALICE, 'count to 2 and ask'),
      await start(onB, ALICE, 'count to 2 and ask'),
    ];
    for (const t of asking)
      await reachesState(onA, onA.agent('countdown'), ALICE, t.id, TaskState.TASK_STATE_INPUT_REQUIRED);
    const busy = [await start(onA, ALICE, 'count to 3000'), await start(onB, ALICE, 'count to 3000')];
    const followUp = (t: Task): Promise<unknown> =>
      onB.sendMessage(onB.agent('countdown'), messageRequest('go on', { taskId: t.id }), as(ALICE));
    const first = asking[0] as Task;
    expect((await refusal(followUp(first))).code).toBe('TOO_MANY_TASKS');
    const unchanged = await onA.getTask(
      onA.agent('countdown'),
      { tenant: '', id: first.id, historyLength: undefined },
      as(ALICE),
    );
    expect(unchanged.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const texts = unchanged.history.flatMap((m) =>
      m.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')),
    );
    expect(texts).not.toContain('go on');
    await cancel(onA, ALICE, busy[0]?.id ?? '');
    const continued = asTask((await followUp(first)) as Task);
    expect(continued.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    await cancel(onA, ALICE, busy[1]?.id ?? '');
    await cancel(onA, ALICE, asking[1]?.id ?? '');
  });

  it('a task refused for another reason does not keep a place', async () => {
    // A follow-up to a task that is still working is refused: the task keeps its one count.
    const working = await start(onA, ALICE, 'count to 3000');
    const followUp = onB.sendMessage(
      onB.agent('countdown'),
      messageRequest('more', { taskId: working.id }),
      as(ALICE),
    );
    expect((await failure(followUp, working.id)).code).toBe('UNSUPPORTED_OPERATION');
    const second = await start(onB, ALICE, 'count to 3000');
    expect((await refusal(start(onA, ALICE, 'count to 3000'))).code).toBe('TOO_MANY_TASKS');
    await cancel(onB, ALICE, working.id);
    // Push not supported by the agent: refused before anything ran, the place is free again.
    const pushless = onA.sendMessage(
      onA.agent('nopush'),
      messageRequest('x', { returnImmediately: true, push: { url: 'https://example.com/hook' } }),
      as(ALICE),
    );
    expect((await refusal(pushless)).code).toBe('PUSH_NOTIFICATION_NOT_SUPPORTED');
    const third = await start(onA, ALICE, 'count to 3000');
    await cancel(onA, ALICE, second.id);
    await cancel(onA, ALICE, third.id);
  });
});

describe('the per-principal task cap across Redis replicas, when one stops or dies', () => {
  let redis: RedisProcess;
  let keyPrefix: string;
  let direct: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    direct = new Redis(redis.url);
  }, 300_000);
  afterAll(async () => {
    direct?.disconnect();
    await redis?.stop();
  });
  const replica = (execution: Record<string, unknown> = {}): Promise<TestServer> =>
    startServer({
      agents: AGENTS,
      execution: { maxTasksPerPrincipal: 1, ...execution },
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix } },
    });

  it('a task handed over to another replica stays counted until that replica finishes it', async () => {
    keyPrefix = `cap-handover-${randomUUID().slice(0, 8)}:`;
    const c = await replica();
    const d = await replica();
    try {
      const onC = c.server.engine;
      const onD = d.server.engine;
      const task = asTask(
        await onC.sendMessage(
          onC.agent('countdown'),
          messageRequest('count to 150', { returnImmediately: true }),
          as(ALICE),
        ),
      );
      await reachesState(onD, onD.agent('countdown'), ALICE, task.id, TaskState.TASK_STATE_WORKING);
      await c.close(); // drains for 1 s, then hands the unfinished task back to the queue
      await eventually(
        () => d.server.engine.stats().running === 1,
        10_000,
        'replica D to take the task over',
      );
      const refused = await refusal(
        onD.sendMessage(
          onD.agent('countdown'),
          messageRequest('count to 2', { returnImmediately: true }),
          as(ALICE),
        ),
      );
      expect(refused.code).toBe('TOO_MANY_TASKS');
      await reachesState(onD, onD.agent('countdown'), ALICE, task.id, TaskState.TASK_STATE_COMPLETED, 20_000);
      const next = asTask(await onD.sendMessage(onD.agent('echo'), messageRequest('free again'), as(ALICE)));
      expect(next.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    } finally {
      await c.close().catch(() => {});
      await d.close();
    }
  }, 60_000);

  it('a task taken over from a replica cut off from Redis stays counted until the new replica finishes it', async () => {
    keyPrefix = `cap-takeover-${randomUUID().slice(0, 8)}:`;
    const c = await replica({ leaseSeconds: 1 });
    const d = await replica({ leaseSeconds: 1 });
    try {
      const onC = c.server.engine;
      const onD = d.server.engine;
      const task = asTask(
        await onC.sendMessage(
          onC.agent('countdown'),
          messageRequest('count to 100', { returnImmediately: true }),
          as(ALICE),
        ),
      );
      await reachesState(onD, onD.agent('countdown'), ALICE, task.id, TaskState.TASK_STATE_WORKING);
      // Replica C loses Redis for good (as if it died): its lease lapses and D takes the task over.
      await c.server.store.close();
      await eventually(() => onD.stats().running === 1, 15_000, 'replica D to take the task over');
      const refused = await refusal(
        onD.sendMessage(onD.agent('echo'), messageRequest('one more'), as(ALICE)),
      );
      expect(refused.code).toBe('TOO_MANY_TASKS');
      const done = await reachesState(
        onD,
        onD.agent('countdown'),
        ALICE,
        task.id,
        TaskState.TASK_STATE_COMPLETED,
        20_000,
      );
      expect(done.metadata?.['agentd.attempt']).toBe(2);
      const next = asTask(await onD.sendMessage(onD.agent('echo'), messageRequest('free again'), as(ALICE)));
      expect(next.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    } finally {
      await c.close().catch(() => {});
      await d.close();
    }
  }, 60_000);

  it('a count that a dead replica left behind (finished or never stored) is repaired when the cap is hit', async () => {
    keyPrefix = `cap-repair-${randomUUID().slice(0, 8)}:`;
    const e = await replica();
    try {
      const onE = e.server.engine;
      const done = asTask(await onE.sendMessage(onE.agent('echo'), messageRequest('hi'), as(ALICE)));
      const quotaKey = `${keyPrefix}{quota:alice}:inflight`;
      // As if the replica died after writing the final state but before the release, a minute ago.
      await direct.zadd(quotaKey, Date.now() - 60_000, done.id);
      const next = asTask(await onE.sendMessage(onE.agent('echo'), messageRequest('again'), as(ALICE)));
      expect(next.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      // A task that was counted but never stored and is run by nobody: repaired too.
      await direct.zadd(quotaKey, Date.now() - 60_000, randomUUID());
      expect(
        asTask(await onE.sendMessage(onE.agent('echo'), messageRequest('more'), as(ALICE))).id,
      ).toBeTruthy();
      // One counted moments ago may still be on its way to the store: it is left alone.
      await direct.zadd(quotaKey, Date.now(), randomUUID());
      expect(
        (await refusal(onE.sendMessage(onE.agent('echo'), messageRequest('wait'), as(ALICE)))).code,
      ).toBe('TOO_MANY_TASKS');
      expect(await direct.zcard(quotaKey)).toBe(1);
    } finally {
      await e.close();
    }
  });
});
