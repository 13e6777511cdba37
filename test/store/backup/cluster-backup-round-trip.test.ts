import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskJson } from '../../../src/codec.js';
import type { StoreBackup } from '../../../src/store/ports.js';
import { agentdCli, storeContents } from '../../helpers/backup.js';
import { closeSdkClient } from '../../helpers/grpc.js';
import { redisCall, startRedisCluster, type RedisClusterProcess } from '../../helpers/redis-cluster.js';
import { clientFor, sendRequest } from '../../helpers/sdk-client.js';
import { startServer, type TestServer } from '../../helpers/server.js';

const PREFIX = 'clbk:';

describe('agentd backup / restore on a Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  let t: TestServer;
  let echo: Client;
  let dir: string;
  const tasks: Task[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    t = await startServer({
      store: {
        kind: 'redis',
        redis: { keyPrefix: PREFIX, cluster: { nodes: cluster.addresses.slice(0, 2) } },
      },
      agents: [{ name: 'echo', kind: 'echo', default: true }],
    });
    echo = await clientFor(t.agentUrl('echo'));
    // Enough tasks that every primary holds some (their ids hash to slots all over).
    for (let i = 0; i < 30; i++) tasks.push((await echo.sendMessage(sendRequest(`hello ${i}`))) as Task);
    for (const task of tasks.slice(0, 3)) await t.server.store.checkpoints.put(task.id, 'step', '"done"');
    dir = mkdtempSync(join(tmpdir(), 'agentd-backup-cluster-'));
  }, 120_000);

  afterAll(async () => {
    if (echo) closeSdkClient(echo);
    await t?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('backs up the tasks of every primary and restores them into the emptied Cluster', async () => {
    const store = t.server.store.backup as StoreBackup;
    const before = await storeContents(store);
    expect(before).toHaveLength(30);
    // The CLI finds the Cluster as the servers do: from REDIS_CLUSTER_NODES.
    const env = {
      REDIS_CLUSTER_NODES: cluster.addresses.slice(0, 2).join(','),
      AGENTD_REDIS_KEY_PREFIX: PREFIX,
    };
    const file = join(dir, 'cluster.ndjson');
    const backup = await agentdCli(['backup', '--out', file], env);
    expect(backup.stderr).toMatch(/^backed up 30 tasks, \d+ events, 0 push configs, 3 checkpoints to /m);

    for (const node of cluster.nodes.slice(0, 3)) await redisCall(node.port, 'FLUSHALL');
    await expect(echo.getTask({ tenant: '', id: tasks[0]!.id })).rejects.toThrow();

    const restore = await agentdCli(['restore', '--in', file], env);
    expect(restore.stderr).toMatch(/^restored 30 tasks, skipped 0 /m);
    expect(await storeContents(store)).toEqual(before);
    for (const task of tasks) {
      const got = await echo.getTask({ tenant: '', id: task.id });
      expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
      expect(taskJson(got)).toEqual(taskJson(task));
    }
  }, 60_000);
});
