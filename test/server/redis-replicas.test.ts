import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, listContextRequest, sendRequest, waitForTaskState } from '../helpers/sdk-client.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { expectRpcError, messageJson, rpc } from '../helpers/wire.js';

/** Two agentd replicas on one redis-server, as in a Kubernetes deployment. */
describe('replicas sharing one Redis store', () => {
  let redis: RedisProcess;
  let a: TestServer;
  let b: TestServer;
  const redisConfig = (): Record<string, unknown> => ({
    store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'replicas-test:' } },
  });

  beforeAll(async () => {
    redis = await startRedis();
    a = await startServer(redisConfig());
    b = await startServer(redisConfig());
  }, 300_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('a task sent to replica A is streamed, read and listed on replica B', async () => {
    const onA = await clientFor(a.agentUrl('countdown'));
    const onB = await clientFor(b.agentUrl('countdown'));
    const created = await onA.sendMessage(sendRequest('count to 4', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');

    const seen: string[] = [];
    for await (const event of onB.resubscribeTask({ tenant: '', id: created.id })) {
      seen.push(event.payload?.$case ?? 'none');
    }
    expect(seen[0]).toBe('task');
    expect(seen.filter((c) => c === 'artifactUpdate').length).toBeGreaterThan(0);

    const got = await onB.getTask({ tenant: '', id: created.id });
    expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const text = got.artifacts[0]?.parts
      .map((p) => (p.content?.$case === 'text' ? p.content.value : ''))
      .join('');
    expect(text).toBe('1\n2\n3\n4\n');

    const listed = await onB.listTasks(listContextRequest(created.contextId));
    expect(listed.tasks.map((t) => t.id)).toEqual([created.id]);
  });

  it('a cancel sent to replica B reaches replica A, which executes the task, and stops its agent', async () => {
    const onA = await clientFor(a.agentUrl('countdown'));
    const onB = await clientFor(b.agentUrl('countdown'));
    const stream = onA.sendMessageStream(sendRequest('count to 200'));
    const first = await stream.next();
    const task = first.value?.payload?.$case === 'task' ? first.value.payload.value : undefined;
    if (!task) throw new Error('expected the task first');
    for (let n = 0; n < 3; n++) await stream.next(); // A is working: a few events in

    const canceled = await onB.cancelTask({ tenant: '', id: task.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);

    let last: TaskState | undefined;
    for await (const event of stream) {
      if (event.payload?.$case === 'statusUpdate') last = event.payload.value.status?.state;
    }
    expect(last).toBe(TaskState.TASK_STATE_CANCELED);
    const final = await onA.getTask({ tenant: '', id: task.id });
    expect(final.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    // The agent on A stopped counting long before 200.
    expect(final.artifacts[0]?.parts.length ?? 0).toBeLessThan(200);
    expect(a.server.stats().runs).toBe(0);
  });

  it('GetTask on another replica shows every event a stream showed, though the snapshot is saved less often', async () => {
    const onA = await clientFor(a.agentUrl('countdown'));
    const onB = await clientFor(b.agentUrl('countdown'));
    const created = await onA.sendMessage(sendRequest('count to 60', { returnImmediately: true }));
    if (!('status' in created)) throw new Error('expected a task');
    let counted = 0;
    for await (const event of onB.resubscribeTask({ tenant: '', id: created.id })) {
      if (event.payload?.$case !== 'artifactUpdate') continue;
      counted++;
      if (counted % 7 !== 0) continue;
      // Every 7th count, well within the 250 ms between snapshot saves of 20 ms steps.
      const seen = await onB.getTask({ tenant: '', id: created.id });
      expect(seen.artifacts[0]?.parts.length ?? 0).toBeGreaterThanOrEqual(counted);
      if (counted >= 35) break;
    }
    await onB.cancelTask({ tenant: '', id: created.id, metadata: undefined });
  });

  it('discovery on one replica finds the agents of every replica, by capability', async () => {
    const res = await fetch(`${b.url}/api/v1/agents?capability=countdown`);
    const body = (await res.json()) as {
      agents: Array<{ name: string; server: string; local: boolean; cardUrl: string }>;
    };
    const servers = new Set(body.agents.map((x) => x.server));
    expect(body.agents.every((x) => x.name === 'countdown')).toBe(true);
    expect(servers).toEqual(new Set([a.server.serverId, b.server.serverId]));
    expect(body.agents.find((x) => !x.local)?.cardUrl).toBe(
      `${a.url}/a2a/countdown/.well-known/agent-card.json`,
    );
    const none = (await (await fetch(`${b.url}/api/v1/agents?capability=no-such-skill`)).json()) as {
      agents: unknown[];
    };
    expect(none.agents).toEqual([]);
  });

  it('a replica that shuts down gracefully leaves the registry at once', async () => {
    await a.close();
    const body = (await (await fetch(`${b.url}/api/v1/agents`)).json()) as {
      agents: Array<{ server: string }>;
    };
    expect(new Set(body.agents.map((x) => x.server))).toEqual(new Set([b.server.serverId]));
  });

  it('when Redis stops, readiness turns 503 and requests get a retryable 503; both recover when it is back', async () => {
    const port = redis.port;
    await redis.stop();
    const ready = await waitForStatus(`${b.url}/ready`, 503);
    expect(
      ((await ready.json()) as { checks: Record<string, { status: string }> }).checks.store_redis?.status,
    ).toBe('fail');

    const res = await fetch(`${b.agentUrl('echo')}rest/tasks/some-task`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as {
      error: { status: string; details: Array<{ reason: string; metadata?: Record<string, string> }> };
    };
    expect(body.error.status).toBe('UNAVAILABLE');
    expect(body.error.details[0]?.reason).toBe('STORE_UNAVAILABLE');
    expect(body.error.details[0]?.metadata?.retryable).toBe('true');

    redis = await startRedis({ port });
    await waitForStatus(`${b.url}/ready`, 200);
    const client = await clientFor(b.agentUrl('echo'));
    const done = await client.sendMessage(sendRequest('back'));
    expect('status' in done && done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  }, 60_000);
});

/**
 * Polls a URL until it answers with `status`: readiness follows an external process (Redis
 * going and coming back), which offers no event to await from here.
 */
async function waitForStatus(url: string, status: number, timeoutMs = 20_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(url);
    if (res.status === status) return res;
    await res.body?.cancel();
    if (Date.now() > deadline)
      throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last ${res.status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The work queue is shared: with every worker of replica A busy, a task sent to A waits in
 * Redis and runs on whichever replica has a free worker; when all are busy it waits
 * (SUBMITTED), and beyond the queue depth it is refused with the retryable QUEUE_FULL.
 */
describe('one work queue for all replicas (maxConcurrentWorkflows 1, maxQueueDepth 1 each)', () => {
  let redis: RedisProcess;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    redis = await startRedis();
    const config = {
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'queue-test:' } },
      execution: { maxConcurrentWorkflows: 1, maxQueueDepth: 1 },
    };
    a = await startServer(config);
    b = await startServer(config);
  }, 300_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('runs queued work on the replica with a free worker, waits when all are busy, refuses beyond the depth', async () => {
    const onA = await clientFor(a.agentUrl('countdown'));
    const onB = await clientFor(b.agentUrl('countdown'));
    const long = (): ReturnType<typeof sendRequest> =>
      sendRequest('count to 500', { returnImmediately: true });

    const first = await onA.sendMessage(long()); // A's only worker
    await eventually(() => a.server.stats().running === 1, 5000, 'first task running on A');

    // A is busy: a blocking SendMessage on A is queued, B's idle worker takes it, and A answers once it is done.
    const short = await onA.sendMessage(sendRequest('count to 3'));
    if (!('status' in short)) throw new Error('expected a task');
    expect(short.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const text = short.artifacts[0]?.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : ''));
    expect(text?.join('')).toBe('1\n2\n3\n');
    expect(a.server.stats().running).toBe(1); // A ran none of it

    const second = await onA.sendMessage(long()); // queued on A, taken by B
    await eventually(() => b.server.stats().running === 1, 5000, 'second task running on B');
    const third = await onB.sendMessage(long()); // both busy: it waits
    if (!('status' in third)) throw new Error('expected a task');
    expect(third.status?.state).toBe(TaskState.TASK_STATE_SUBMITTED);

    for (const server of [a, b]) {
      const refused = await rpc(server.url, 'countdown', 'SendMessage', {
        message: messageJson('count to 500'),
        configuration: { returnImmediately: true },
      });
      expectRpcError(refused, { http: 503, code: -32051, reason: 'QUEUE_FULL' });
    }

    // Cancel a waiting task from the other replica: it leaves the queue and never runs.
    const canceledWaiting = await onA.cancelTask({ tenant: '', id: third.id, metadata: undefined });
    expect(canceledWaiting.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const fourth = await onB.sendMessage(long()); // the slot it left is free again
    if (!('status' in fourth)) throw new Error('expected a task');

    // Freeing A's worker lets A take the waiting task.
    if (!('status' in first) || !('status' in second)) throw new Error('expected tasks');
    await onB.cancelTask({ tenant: '', id: first.id, metadata: undefined });
    const running = await waitForTaskState(onB, fourth.id, TaskState.TASK_STATE_WORKING);
    expect(running.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    for (const id of [second.id, fourth.id]) await onA.cancelTask({ tenant: '', id, metadata: undefined });
    const never = await onB.getTask({ tenant: '', id: third.id });
    expect(never.artifacts).toEqual([]);
    expect(never.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });
});
