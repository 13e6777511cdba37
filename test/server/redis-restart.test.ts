import { TaskState } from '@a2a-js/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../helpers/redis-server.js';
import { clientFor, sendRequest } from '../helpers/sdk-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * Redis with AOF restarts while clients keep sending: every task the server acknowledged
 * (answered COMPLETED) before, during or after the restart is still there afterwards;
 * calls made while Redis is down fail with the retryable STORE_UNAVAILABLE, never with a
 * wrong answer.
 */
describe('restarting Redis (AOF on) under load', () => {
  let dir: string;
  let redis: RedisProcess;
  let t: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentd-aof-'));
    redis = await startRedis({ appendonly: true, dir });
    t = await startServer({ store: { kind: 'redis', redis: { url: redis.url, keyPrefix: 'aof-test:' } } });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged task', async () => {
    const client = await clientFor(t.agentUrl('echo'));
    const acknowledged: string[] = [];
    const refused: string[] = [];
    let sending = true;
    const load = (async () => {
      for (let i = 0; sending || acknowledged.length < 20; i++) {
        try {
          const r = await client.sendMessage(sendRequest(`task ${i}`));
          if ('status' in r && r.status?.state === TaskState.TASK_STATE_COMPLETED) acknowledged.push(r.id);
        } catch (error) {
          refused.push((error as Error).message);
        }
      }
    })();

    // Let some tasks complete, restart Redis on the same port and data directory, then go on.
    while (acknowledged.length < 10) await new Promise((r) => setImmediate(r));
    const port = redis.port;
    await redis.stop();
    redis = await startRedis({ appendonly: true, dir, port });
    const afterRestart = acknowledged.length;
    while (acknowledged.length < afterRestart + 10) await new Promise((r) => setImmediate(r));
    sending = false;
    await load;

    for (const id of acknowledged) {
      const task = await client.getTask({ tenant: '', id });
      expect(task.status?.state, id).toBe(TaskState.TASK_STATE_COMPLETED);
    }
    // Whatever failed while Redis was away failed with the retryable store error.
    for (const message of refused) expect(message).toMatch(/state store|unavailable/i);
  }, 60_000);
});
