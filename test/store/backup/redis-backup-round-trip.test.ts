import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskPushNotificationConfig, TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskJson } from '../../../src/codec.js';
import { withoutCredentials } from '../../../src/store/backup/backup-format.js';
import type { StoreBackup } from '../../../src/store/ports.js';
import { agentdCli, storeContents } from '../../helpers/backup.js';
import { startRedis, type RedisProcess } from '../../helpers/redis-server.js';
import { clientFor, sendRequest } from '../../helpers/sdk-client.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { closeSdkClient } from '../../helpers/grpc.js';

const PREFIX = 'bk:';

/** A push config with credentials, as a client registers it. */
function hookFor(taskId: string): TaskPushNotificationConfig {
  return {
    tenant: '',
    id: 'hook',
    taskId,
    url: 'https://hooks.example.com/a2a',
    token: 'per-task-token',
    authentication: { scheme: 'Bearer', credentials: 'webhook-secret' },
  };
}

/** The contents as a backup without credentials restores them. */
function withoutSecrets(contents: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return contents.map((t) => ({
    ...t,
    pushConfigs: (t.pushConfigs as unknown[]).map((c) =>
      TaskPushNotificationConfig.toJSON(withoutCredentials(TaskPushNotificationConfig.fromJSON(c))),
    ),
  }));
}

describe('agentd backup / restore against Redis', () => {
  let redis: RedisProcess;
  let t: TestServer;
  let direct: Redis;
  let echo: Client;
  let countdown: Client;
  let dir: string;
  let file: string;
  let store: StoreBackup;
  const finished: Task[] = [];
  const paused: Task[] = [];
  let before: Array<Record<string, unknown>>;
  const redisArgs = (): string[] => ['--redis-url', redis.url, '--key-prefix', PREFIX];

  beforeAll(async () => {
    redis = await startRedis();
    direct = new Redis(redis.url);
    t = await startServer({
      store: { kind: 'redis', redis: { url: redis.url, keyPrefix: PREFIX } },
      agents: [
        { name: 'echo', kind: 'echo', default: true },
        { name: 'countdown', kind: 'countdown', stepMs: 2 },
      ],
    });
    store = t.server.store.backup as StoreBackup;
    echo = await clientFor(t.agentUrl('echo'));
    countdown = await clientFor(t.agentUrl('countdown'));
    for (let i = 0; i < 20; i++) finished.push((await echo.sendMessage(sendRequest(`hello ${i}`))) as Task);
    for (let i = 0; i < 3; i++)
      paused.push((await countdown.sendMessage(sendRequest('count to 4 and ask'))) as Task);
    for (const p of paused) {
      expect(p.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
      await t.server.store.pushConfigs.put(hookFor(p.id));
      await t.server.store.checkpoints.put(p.id, 'fetch', '{"rows":3}');
    }
    dir = mkdtempSync(join(tmpdir(), 'agentd-backup-'));
    file = join(dir, 'agentd.ndjson');
    before = await storeContents(store);
  }, 30_000);

  afterAll(async () => {
    closeSdkClient(echo);
    closeSdkClient(countdown);
    await t?.close();
    direct?.disconnect();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('backs up every task, then a wiped Redis restored from the file holds the same tasks, events and checkpoints', async () => {
    expect(before).toHaveLength(23);
    const backup = await agentdCli(['backup', '--out', file, ...redisArgs()]);
    expect(backup.stderr).toMatch(/^backed up 23 tasks, \d+ events, 3 push configs, 3 checkpoints to /m);
    expect(backup.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      type: 'header',
      format: 'agentd-backup',
      formatVersion: 1,
      source: 'redis',
    });
    expect(JSON.parse(lines[lines.length - 1] as string)).toMatchObject({
      type: 'trailer',
      counts: { tasks: 23, pushConfigs: 3, checkpoints: 3 },
    });
    // Credentials are left out of the file by default.
    expect(readFileSync(file, 'utf8')).not.toContain('webhook-secret');
    expect(readFileSync(file, 'utf8')).not.toContain('per-task-token');

    await direct.flushall();
    await expect(echo.getTask({ tenant: '', id: finished[0]!.id })).rejects.toThrow();

    const restore = await agentdCli(['restore', '--in', file, ...redisArgs()]);
    expect(restore.stderr).toMatch(/^restored 23 tasks, skipped 0 /m);
    expect(restore.code).toBe(0);

    expect(await storeContents(store)).toEqual(withoutSecrets(before));
    for (const task of [...finished, ...paused]) {
      const client = finished.includes(task) ? echo : countdown;
      const got = await client.getTask({ tenant: '', id: task.id });
      expect(taskJson(got)).toEqual(taskJson(task));
    }
    // ListTasks finds them again (the indexes were rebuilt).
    const listed = await echo.listTasks({
      tenant: '',
      contextId: '',
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 50,
      pageToken: '',
      historyLength: 0,
      statusTimestampAfter: undefined,
      includeArtifacts: false,
    });
    expect(listed.tasks.map((x) => x.id).sort()).toEqual(finished.map((x) => x.id).sort());
  });

  it('restoring the same file again changes nothing, and a newer stored version is kept unless --force', async () => {
    const again = await agentdCli(['restore', '--in', file, ...redisArgs()]);
    expect(again.stderr).toMatch(/^restored 0 tasks, skipped 23 /m);
    expect(await storeContents(store)).toEqual(withoutSecrets(before));

    // One task moves on after the backup: its stored version is newer than the file's.
    const id = finished[0]!.id;
    const current = (await t.server.store.tasks.get(id))!;
    const moved = { ...current, task: { ...current.task, metadata: { note: 'after the backup' } } };
    await t.server.store.tasks.save(moved, current.version);
    await agentdCli(['restore', '--in', file, ...redisArgs()]);
    const kept = (await echo.getTask({ tenant: '', id })) as Task;
    expect(kept.metadata).toEqual({ note: 'after the backup' });

    const forced = await agentdCli(['restore', '--in', file, '--force', ...redisArgs()]);
    expect(forced.stderr).toMatch(/^restored 23 tasks, skipped 0 /m);
    expect(taskJson(await echo.getTask({ tenant: '', id }))).toEqual(taskJson(finished[0]!));
  });

  it('a restored task waiting for input replays its snapshot on SubscribeToTask and resumes from its checkpointed state', async () => {
    const task = paused[0]!;
    const stream = countdown.resubscribeTask({ tenant: '', id: task.id })[Symbol.asyncIterator]();
    const first = await stream.next();
    expect(first.value?.payload?.$case).toBe('task');
    expect(taskJson(first.value!.payload!.value as Task)).toEqual(taskJson(task));
    await stream.return?.();

    const done = (await countdown.sendMessage(sendRequest('go on', { taskId: task.id }))) as Task;
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    // The log continued from the restored sequence: no gap, no sequence used twice.
    const seqs = (await t.server.store.events.read(task.id, 0)).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(seqs.length).toBeGreaterThan((before.find((b) => b.id === task.id)!.events as unknown[]).length);
  });

  it('writes the backup to stdout with `--out -` and restores it from stdin with `--in -`', async () => {
    const current = await storeContents(store);
    const backup = await agentdCli(['backup', '--out', '-', ...redisArgs()]);
    expect(backup.code).toBe(0);
    expect(backup.stdout.split('\n')[0]).toContain('"type":"header"');
    expect(backup.stderr).toMatch(/^backed up 23 tasks, .* to stdout in /m);
    await direct.flushall();
    const restore = await agentdCli(['restore', '--in', '-', ...redisArgs()], {}, backup.stdout);
    expect(restore.stderr).toMatch(/^restored 23 tasks, skipped 0 /m);
    expect(await storeContents(store)).toEqual(withoutSecrets(current));
  });

  it('with --encrypt-key-file the credentials survive the round trip, sealed in the file', async () => {
    // The restores above came from files without credentials: put them back first.
    for (const p of paused) await t.server.store.pushConfigs.put(hookFor(p.id));
    const current = await storeContents(store);
    expect(JSON.stringify(current)).toContain('webhook-secret');
    const keyFile = join(dir, 'backup.key');
    writeFileSync(keyFile, randomBytes(32).toString('base64'));
    const sealed = join(dir, 'sealed.ndjson');
    expect(
      (await agentdCli(['backup', '--out', sealed, '--encrypt-key-file', keyFile, ...redisArgs()])).code,
    ).toBe(0);
    expect(readFileSync(sealed, 'utf8')).not.toContain('webhook-secret');
    await direct.flushall();
    const restore = await agentdCli([
      'restore',
      '--in',
      sealed,
      '--encrypt-key-file',
      keyFile,
      ...redisArgs(),
    ]);
    expect(restore.stderr).toMatch(/^restored 23 tasks, skipped 0 /m);
    expect(await storeContents(store)).toEqual(current);
  });

  it('says what to do when no Redis is configured (usage error), and leaves no file behind when the store is unreachable', async () => {
    const none = await agentdCli(['backup', '--out', join(dir, 'none.ndjson')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--redis-url');
    const down = await agentdCli([
      'backup',
      '--out',
      join(dir, 'down.ndjson'),
      '--redis-url',
      'redis://127.0.0.1:1',
    ]);
    expect(down.code).toBe(1);
    expect(existsSync(join(dir, 'down.ndjson'))).toBe(false);
    expect(existsSync(join(dir, 'down.ndjson.partial'))).toBe(false);
  });

  it('refuses a damaged or cut file, naming the line, and writes nothing', async () => {
    await direct.flushall();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const cases: Array<[string, string[], RegExp]> = [
      ['broken', lines.map((l, i) => (i === 3 ? l.slice(0, 20) : l)), /Backup line 4: not a JSON object/],
      [
        'altered',
        lines.map((l, i) => (i === 2 ? l.replace('hello', 'HELLO') : l)),
        new RegExp(`Backup line ${lines.length}: checksum mismatch`),
      ],
      [
        'cut',
        lines.slice(0, -1),
        new RegExp(`Backup line ${lines.length - 1}: the file ends without its trailer`),
      ],
      [
        'future',
        [lines[0]!.replace('"formatVersion":1', '"formatVersion":2'), ...lines.slice(1)],
        /Backup line 1: format version 2 is not supported/,
      ],
    ];
    for (const [name, content, message] of cases) {
      const bad = join(dir, `${name}.ndjson`);
      writeFileSync(bad, `${content.join('\n')}\n`);
      const run = await agentdCli(['restore', '--in', bad, ...redisArgs()]);
      expect(run.code, name).toBe(1);
      expect(run.stderr, name).toMatch(message);
    }
    // No task was written (the server's own registry heartbeat may have written its keys).
    expect(await direct.keys(`${PREFIX}{t:*`)).toEqual([]);
  });
});
