import { TaskState } from '@a2a-js/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

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

    const listed = await onB.listTasks({
      tenant: '',
      contextId: created.contextId,
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 10,
      pageToken: '',
      historyLength: 0,
      statusTimestampAfter: undefined,
      includeArtifacts: false,
    });
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
