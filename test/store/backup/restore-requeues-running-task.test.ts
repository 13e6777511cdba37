import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskState, type Task } from '@a2a-js/sdk';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentdCli } from '../../helpers/backup.js';
import { closeSdkClient } from '../../helpers/grpc.js';
import { startRedis, type RedisProcess } from '../../helpers/redis-server.js';
import { clientFor, sendRequest, waitForTaskState } from '../../helpers/sdk-client.js';
import { startServer, type TestServer } from '../../helpers/server.js';

const PREFIX = 'requeue:';

describe('a task running when the backup was taken', () => {
  let redis: RedisProcess;
  let direct: Redis;
  let dir: string;
  const servers: TestServer[] = [];
  const start = async (): Promise<TestServer> => {
    const s = await startServer({
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: PREFIX } },
      agents: [{ name: 'countdown', kind: 'countdown', stepMs: 100, default: true }],
    });
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await startRedis();
    direct = new Redis(redis.url);
    dir = mkdtempSync(join(tmpdir(), 'agentd-requeue-'));
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    direct?.disconnect();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is queued again by the restore, and a replica on the restored Redis runs it to the end', async () => {
    const a = await start();
    const client = await clientFor(a.agentUrl('countdown'));
    const task = (await client.sendMessage(sendRequest('count to 8', { returnImmediately: true }))) as Task;
    await waitForTaskState(client, task.id, TaskState.TASK_STATE_WORKING);
    closeSdkClient(client);

    const file = join(dir, 'running.ndjson');
    const redisArgs = ['--redis-url', redis.url, '--key-prefix', PREFIX];
    const backup = await agentdCli(['backup', '--out', file, ...redisArgs]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(/^backed up 1 tasks, .*, 1 queued or running to /m);
    const work = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"type":"work"'));
    expect(work).toHaveLength(1);

    // The replica and the Redis data are lost; a new replica waits on an empty Redis.
    await a.close();
    servers.splice(servers.indexOf(a), 1);
    await direct.flushall();
    const b = await start();

    const restore = await agentdCli(['restore', '--in', file, ...redisArgs]);
    expect(restore.stderr).toMatch(/^restored 1 tasks/m);
    const other = await clientFor(b.agentUrl('countdown'));
    try {
      const done = await waitForTaskState(other, task.id, TaskState.TASK_STATE_COMPLETED, 15_000);
      expect(done.status?.message?.parts[0]?.content).toEqual({ $case: 'text', value: 'Counted to 8' });
    } finally {
      closeSdkClient(other);
    }
  }, 30_000);
});
