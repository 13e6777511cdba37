/**
 * Per-owner authorization over the engine: a task belongs to the principal that created
 * it. Another principal gets TASK_NOT_FOUND for every operation on it — the very answer a
 * task that does not exist gets — and ListTasks shows it only its own tasks; an admin sees
 * and manages all. On Redis the owner is in the task record, so a second replica enforces
 * the same rules for a task the first one created.
 */
import { TaskState } from '@a2a-js/sdk';
import type { SendMessageRequest, Task } from '@a2a-js/sdk';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEngine } from '../../src/engine/task-engine.js';
import { queuedPayload } from '../../src/engine/queued-request.js';
import { asTask, messageRequest, pushConfig } from '../helpers/interop.js';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ALICE, BOB, ROOT, as, failure, listAll, listRequest, reachesState } from './principals.js';
import type { Principal } from '../../src/security/principal.js';

const AGENTS = [
  { name: 'countdown', kind: 'countdown', stepMs: 20, default: true },
  { name: 'echo', kind: 'echo' },
];

describe.each(['memory', 'redis'] as const)('task ownership on the %s store', (backend) => {
  let redis: RedisProcess | undefined;
  let a: TestServer;
  let b: TestServer;
  /** Replica A creates, replica B (the same server on the memory store) is asked. */
  let onA: TaskEngine;
  let onB: TaskEngine;

  beforeAll(async () => {
    if (backend === 'redis') {
      redis = await startRedis();
      const config = {
        agents: AGENTS,
        store: { kind: 'redis', redis: { url: redis.url, keyPrefix: `own-${randomUUID().slice(0, 8)}:` } },
      };
      a = await startServer(config);
      b = await startServer(config);
    } else {
      a = b = await startServer({ agents: AGENTS });
    }
    onA = a.server.engine;
    onB = b.server.engine;
  }, 300_000);
  afterAll(async () => {
    await a?.close();
    if (b !== a) await b?.close();
    await redis?.stop();
  });

  const countdown = (e: TaskEngine) => e.agent('countdown');
  const echo = (e: TaskEngine) => e.agent('echo');
  const start = async (who: Principal | undefined, text: string, contextId?: string): Promise<Task> =>
    asTask(
      await onA.sendMessage(
        countdown(onA),
        messageRequest(text, { returnImmediately: true, ...(contextId ? { contextId } : {}) }),
        as(who),
      ),
    );

  it('another principal gets TASK_NOT_FOUND for every operation, the same answer as for a task that does not exist', async () => {
    const task = await start(ALICE, 'count to 2000');
    const agent = countdown(onB);
    const ghost = randomUUID();
    // What each operation answers `who` for task `id`.
    const operations: Array<[string, (id: string, who: Principal) => Promise<unknown>]> = [
      ['GetTask', (id, who) => onB.getTask(agent, { tenant: '', id, historyLength: undefined }, as(who))],
      ['CancelTask', (id, who) => onB.cancelTask(agent, { tenant: '', id, metadata: undefined }, as(who))],
      [
        'SubscribeToTask',
        async (id, who) => {
          const stream = onB.subscribe(agent, { tenant: '', id }, as(who));
          await stream.next();
          await stream.return(undefined);
        },
      ],
      [
        'SubscribeToTask (resume)',
        async (id, who) => {
          const stream = onB.subscribe(agent, { tenant: '', id }, as(who), { afterSeq: 0 });
          await stream.next();
          await stream.return(undefined);
        },
      ],
      [
        'CreateTaskPushNotificationConfig',
        (id, who) =>
          onB.pushConfigs.create(
            agent,
            pushConfig({ taskId: id, id: 'hook', url: 'https://example.com/h' }),
            as(who),
          ),
      ],
      [
        'GetTaskPushNotificationConfig',
        (id, who) => onB.pushConfigs.get(agent, { tenant: '', taskId: id, id: 'hook' }, as(who)),
      ],
      [
        'ListTaskPushNotificationConfigs',
        (id, who) =>
          onB.pushConfigs.list(agent, { tenant: '', taskId: id, pageSize: 0, pageToken: '' }, as(who)),
      ],
      [
        'DeleteTaskPushNotificationConfig',
        (id, who) => onB.pushConfigs.delete(agent, { tenant: '', taskId: id, id: 'hook' }, as(who)),
      ],
      [
        'SendMessage (follow-up)',
        (id, who) => onB.sendMessage(agent, messageRequest('more', { taskId: id }), as(who)),
      ],
      [
        'SendStreamingMessage (follow-up)',
        async (id, who) => {
          const stream = onB.sendMessageStream(agent, messageRequest('more', { taskId: id }), as(who));
          await stream.next();
          await stream.return(undefined);
        },
      ],
    ];
    for (const [name, call] of operations) {
      const refused = await failure(call(task.id, BOB), task.id);
      const missing = await failure(call(ghost, BOB), ghost);
      expect(refused.code, name).toBe('TASK_NOT_FOUND');
      expect(refused, name).toEqual(missing);
    }
    // The owner's own task still works, untouched by the refusals.
    const own = await onB.getTask(agent, { tenant: '', id: task.id, historyLength: undefined }, as(ALICE));
    expect(own.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const hook = await onB.pushConfigs.create(
      agent,
      pushConfig({ taskId: task.id, id: 'hook', url: 'https://example.com/h' }),
      as(ALICE),
    );
    expect(hook.id).toBe('hook');
    const subscribed = onB.subscribe(agent, { tenant: '', id: task.id }, as(ALICE));
    const first = await subscribed.next();
    expect(first.value?.event.payload?.$case).toBe('task');
    await subscribed.return(undefined);
    // An admin sees and manages it: reads its configs and cancels it.
    const configs = await onB.pushConfigs.list(
      agent,
      { tenant: '', taskId: task.id, pageSize: 0, pageToken: '' },
      as(ROOT),
    );
    expect(configs.configs.map((c) => c.id)).toEqual(['hook']);
    const canceled = await onB.cancelTask(agent, { tenant: '', id: task.id, metadata: undefined }, as(ROOT));
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  it('a finished task of another principal is not found either (read from the store, not a live run)', async () => {
    const done = asTask(await onA.sendMessage(echo(onA), messageRequest('hi'), as(ALICE)));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const ghost = randomUUID();
    const get = (id: string) => onB.getTask(echo(onB), { tenant: '', id, historyLength: undefined }, as(BOB));
    const refused = await failure(get(done.id), done.id);
    expect(refused.code).toBe('TASK_NOT_FOUND');
    expect(refused).toEqual(await failure(get(ghost), ghost));
    const cancel = (id: string) =>
      onB.cancelTask(echo(onB), { tenant: '', id, metadata: undefined }, as(BOB));
    expect(await failure(cancel(done.id), done.id)).toEqual(await failure(cancel(ghost), ghost));
    expect(
      (await onB.getTask(echo(onB), { tenant: '', id: done.id, historyLength: undefined }, as(ROOT))).id,
    ).toBe(done.id);
  });

  it('a follow-up from another principal to a task waiting for input is not found; the owner continues it', async () => {
    const task = await start(ALICE, 'count to 4 and ask');
    await reachesState(onA, countdown(onA), ALICE, task.id, TaskState.TASK_STATE_INPUT_REQUIRED);
    const followUp = (who: Principal): Promise<unknown> =>
      onB.sendMessage(countdown(onB), messageRequest('go on', { taskId: task.id }), as(who));
    expect((await failure(followUp(BOB), task.id)).code).toBe('TASK_NOT_FOUND');
    const after = await onB.getTask(
      countdown(onB),
      { tenant: '', id: task.id, historyLength: undefined },
      as(ALICE),
    );
    expect(after.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(
      after.history.filter((m) =>
        m.parts.some((p) => p.content?.$case === 'text' && p.content.value === 'go on'),
      ),
    ).toEqual([]);
    const continued = asTask((await followUp(ALICE)) as Task);
    expect(continued.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it('ListTasks shows each principal only its own tasks, page by page; an admin sees all', async () => {
    const contextId = randomUUID();
    const mine: string[] = [];
    const theirs: string[] = [];
    const unowned: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await start(ALICE, 'count to 1', contextId)).id);
    for (let i = 0; i < 3; i++) theirs.push((await start(BOB, 'count to 1', contextId)).id);
    unowned.push((await start(undefined, 'count to 1', contextId)).id);
    const agent = countdown(onB);
    // At rest first: a listing's order is by last change, which a working task still moves.
    await Promise.all(
      [...mine, ...theirs, ...unowned].map((id) =>
        reachesState(onB, agent, ROOT, id, TaskState.TASK_STATE_COMPLETED),
      ),
    );
    const sorted = (ids: string[]): string[] => [...ids].sort();
    for (const pageSize of [1, 2, 50]) {
      expect(sorted((await listAll(onB, agent, ALICE, contextId, pageSize)).map((t) => t.id))).toEqual(
        sorted(mine),
      );
      expect(sorted((await listAll(onB, agent, BOB, contextId, pageSize)).map((t) => t.id))).toEqual(
        sorted(theirs),
      );
      expect(sorted((await listAll(onB, agent, ROOT, contextId, pageSize)).map((t) => t.id))).toEqual(
        sorted([...mine, ...theirs, ...unowned]),
      );
    }
    // The open mode's anonymous caller is an admin too.
    expect((await listAll(onB, agent, undefined, contextId, 4)).length).toBe(9);
    // Without a context filter, and by state, nobody else's task shows up either.
    for (const t of await listAll(onB, agent, BOB, '', 100)) expect(mine).not.toContain(t.id);
    const completed = await onB.listTasks(
      agent,
      { ...listRequest(contextId), status: TaskState.TASK_STATE_COMPLETED },
      as(ALICE),
    );
    expect(sorted(completed.tasks.map((t) => t.id))).toEqual(sorted(mine));
    expect(completed.totalSize).toBe(5);
  });

  it('a task whose replica died before storing it is stored by another with its owner (from the lease)', async () => {
    // What a replica leases for a blocking send it stores with its first events (a deferred
    // create): the task travels in the queue payload. Pushed here as if that replica had died.
    const agent = countdown(onA);
    const request = messageRequest('count to 3');
    const id = randomUUID();
    const message = { ...request.message!, taskId: id, contextId: randomUUID() };
    const initial: Task = {
      id,
      contextId: message.contextId,
      status: {
        state: TaskState.TASK_STATE_SUBMITTED,
        message: undefined,
        timestamp: new Date().toISOString(),
      },
      artifacts: [],
      history: [message],
      metadata: undefined,
    };
    const payload = queuedPayload(agent, request, as(ALICE), '', ALICE.id, undefined, initial);
    await a.server.store.queue.push(id, agent.name, payload, 100);
    const done = await reachesState(onB, countdown(onB), ALICE, id, TaskState.TASK_STATE_COMPLETED);
    expect(done.id).toBe(id);
    const get = (taskId: string) =>
      onB.getTask(countdown(onB), { tenant: '', id: taskId, historyLength: undefined }, as(BOB));
    const ghost = randomUUID();
    expect(await failure(get(id), id)).toEqual(await failure(get(ghost), ghost));
  });

  it('message ids are per principal: the same messageId from another principal is a new message, not the first one’s result', async () => {
    const request: SendMessageRequest = messageRequest('hello');
    const first = asTask(await onA.sendMessage(echo(onA), request, as(ALICE)));
    const other = asTask(await onB.sendMessage(echo(onB), request, as(BOB)));
    expect(other.id).not.toBe(first.id);
    expect(other.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    // Each principal's repeat is answered from its own task.
    expect(asTask(await onB.sendMessage(echo(onB), request, as(ALICE))).id).toBe(first.id);
    expect(asTask(await onA.sendMessage(echo(onA), request, as(BOB))).id).toBe(other.id);
    // Bob's task is Bob's: Alice cannot read it.
    const get = onA.getTask(echo(onA), { tenant: '', id: other.id, historyLength: undefined }, as(ALICE));
    expect((await failure(get, other.id)).code).toBe('TASK_NOT_FOUND');
  });
});
