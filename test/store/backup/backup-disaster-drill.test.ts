import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentdCli } from '../../helpers/backup.js';
import { startRedis, type RedisProcess } from '../../helpers/redis-server.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { messageJson, rest, type Json } from '../../helpers/wire.js';

const PREFIX = 'drill:';
/** 500 in the suite; DRILL_TASKS=10000 reproduces the figures in docs/operations.md. */
const TASKS = Number(process.env.DRILL_TASKS) > 0 ? Number(process.env.DRILL_TASKS) : 500;
const SENDERS = 8;

describe('disaster drill: back up under load, lose Redis, restore', () => {
  let redis: RedisProcess;
  let t: TestServer;
  let direct: Redis;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    direct = new Redis(redis.url);
    t = await startServer({ store: { kind: 'redis', redis: { url: redis.url, keyPrefix: PREFIX } } });
    dir = mkdtempSync(join(tmpdir(), 'agentd-drill-'));
  });

  afterAll(async () => {
    await t?.close();
    direct?.disconnect();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'every task acknowledged before the backup started comes back with identical content',
    async () => {
      const file = join(dir, 'drill.ndjson');
      const redisArgs = ['--redis-url', redis.url, '--key-prefix', PREFIX];
      /** Acknowledged tasks: id → [when the answer arrived, the task it answered]. */
      const acked = new Map<string, [number, Json]>();
      let sent = 0;
      let backupStarted = Number.POSITIVE_INFINITY;
      let startBackup!: () => void;
      const halfway = new Promise<void>((resolve) => (startBackup = resolve));
      const sender = async (): Promise<void> => {
        while (sent < TASKS) {
          sent++;
          const r = await rest(t.url, 'echo', 'POST', '/message:send', {
            message: messageJson(`order ${sent}`),
          });
          expect(r.status).toBe(200);
          acked.set(r.json.task.id, [performance.now(), r.json.task]);
          if (acked.size === TASKS / 2) startBackup();
        }
      };
      const load = Promise.all(Array.from({ length: SENDERS }, sender));

      await halfway;
      backupStarted = performance.now();
      const backup = await agentdCli(['backup', '--out', file, ...redisArgs]);
      const backupMs = performance.now() - backupStarted;
      expect(backup.code, backup.stderr).toBe(0);
      const backedUp = Number(/backed up (\d+) tasks/.exec(backup.stderr)?.[1]);
      await load;
      // For comparison: the same backup with no load, of all the tasks.
      const quietStarted = performance.now();
      expect((await agentdCli(['backup', '--out', join(dir, 'quiet.ndjson'), ...redisArgs])).code).toBe(0);
      const quietMs = performance.now() - quietStarted;

      const before = [...acked].filter(([, [at]]) => at < backupStarted);
      expect(before.length).toBeGreaterThanOrEqual(TASKS / 2);

      await direct.flushall();
      const restoreStarted = performance.now();
      const restore = await agentdCli(['restore', '--in', file, ...redisArgs]);
      const restoreMs = performance.now() - restoreStarted;
      expect(restore.code, restore.stderr).toBe(0);
      const restored = Number(/restored (\d+) tasks/.exec(restore.stderr)?.[1]);

      const missing: string[] = [];
      for (const [id, [, task]] of before) {
        const got = await rest(t.url, 'echo', 'GET', `/tasks/${id}`);
        if (got.status !== 200) missing.push(id);
        else expect(got.json).toEqual(task);
      }
      expect(missing).toEqual([]);

      const during = acked.size - before.length;
      console.warn(
        [
          `drill: ${TASKS} tasks sent by ${SENDERS} clients; ${before.length} acknowledged before the backup started, ${during} during or after it`,
          `backup: ${backedUp} tasks in ${backupMs.toFixed(0)} ms under load (${((backedUp / backupMs) * 1000).toFixed(0)} tasks/s), ${(statSync(file).size / 1024).toFixed(0)} KiB; ${TASKS} tasks without load in ${quietMs.toFixed(0)} ms (${((TASKS / quietMs) * 1000).toFixed(0)} tasks/s)`,
          `restore: ${restored} tasks in ${restoreMs.toFixed(0)} ms (${((restored / restoreMs) * 1000).toFixed(0)} tasks/s), verification pass included`,
          `RPO: tasks acknowledged after the backup started (here up to ${during}); RTO: the restore time plus restarting the servers`,
        ].join('\n'),
      );
    },
    60_000 + TASKS * 20,
  );
});
