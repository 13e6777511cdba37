import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentdCli } from '../../helpers/backup.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { messageJson, rest } from '../../helpers/wire.js';

const HOOK = {
  tenant: '',
  id: 'hook',
  url: 'https://hooks.example.com/a2a',
  token: 'per-task-token',
  authentication: { scheme: 'Bearer', credentials: 'webhook-secret' },
};

describe('push-config credentials encrypted in the backup with --encrypt-key-file', () => {
  let source: TestServer;
  let dir: string;
  let taskId: string;
  let file: string;
  let keyFile: string;

  beforeAll(async () => {
    source = await startServer();
    const sent = await rest(source.url, 'countdown', 'POST', '/message:send', {
      message: messageJson('count to 4 and ask'),
    });
    taskId = sent.json.task.id;
    await source.server.store.pushConfigs.put({ ...HOOK, taskId });
    dir = mkdtempSync(join(tmpdir(), 'agentd-backup-key-'));
    keyFile = join(dir, 'backup.key');
    writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`);
    file = join(dir, 'sealed.ndjson');
    const backup = await agentdCli([
      'backup',
      '--from',
      source.url,
      '--out',
      file,
      '--encrypt-key-file',
      keyFile,
    ]);
    expect(backup.code, backup.stderr).toBe(0);
  });

  afterAll(async () => {
    await source?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the file names the key and holds no credential in the clear', () => {
    const text = readFileSync(file, 'utf8');
    expect(JSON.parse(text.split('\n')[0] as string)).toMatchObject({ credentials: 'encrypted' });
    expect(text).not.toContain('webhook-secret');
    expect(text).not.toContain('per-task-token');
    expect(text).toContain('"sealed":');
  });

  it('restored with the key, the config has its credentials back; without it, they are blank and the CLI says so', async () => {
    const [withKey, withoutKey] = await Promise.all([startServer(), startServer()]);
    try {
      const opened = await agentdCli([
        'restore',
        '--in',
        file,
        '--to',
        withKey.url,
        '--encrypt-key-file',
        keyFile,
      ]);
      expect(opened.stderr).toMatch(/^restored 1 tasks, skipped 0 /m);
      expect(await withKey.server.store.pushConfigs.get(taskId, 'hook')).toEqual({ ...HOOK, taskId });

      const blank = await agentdCli(['restore', '--in', file, '--to', withoutKey.url]);
      expect(blank.stderr).toMatch(/^restored 1 tasks/m);
      expect(blank.stderr).toContain('1 push configs were restored without their credentials');
      expect(await withoutKey.server.store.pushConfigs.get(taskId, 'hook')).toEqual({
        ...HOOK,
        taskId,
        token: '',
        authentication: { scheme: 'Bearer', credentials: '' },
      });
    } finally {
      await Promise.all([withKey.close(), withoutKey.close()]);
    }
  });

  it('a different key is refused before anything is written', async () => {
    const other = join(dir, 'other.key');
    writeFileSync(other, randomBytes(32));
    const target = await startServer();
    try {
      const run = await agentdCli(['restore', '--in', file, '--to', target.url, '--encrypt-key-file', other]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /Backup line 1: the push credentials are encrypted with key [0-9a-f]{16}, not with the key given/,
      );
      expect(await target.server.store.tasks.get(taskId)).toBeUndefined();
      const bad = join(dir, 'short.key');
      writeFileSync(bad, 'too short');
      expect(
        (await agentdCli(['backup', '--from', source.url, '--out', '-', '--encrypt-key-file', bad])).code,
      ).toBe(2);
    } finally {
      await target.close();
    }
  });
});
