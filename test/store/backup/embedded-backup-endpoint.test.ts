import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreBackup } from '../../../src/store/ports.js';
import { agentdCli, storeContents } from '../../helpers/backup.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { messageJson, readResponse, rest, type Json } from '../../helpers/wire.js';

const AUTH = {
  apiKeys: [
    { key: 'ops-key', principal: 'ops', scopes: ['agentd:admin'] },
    { key: 'alice-key', principal: 'alice', scopes: [] },
  ],
};
const ALICE = { 'x-api-key': 'alice-key' };

describe('backing up and restoring a server with the embedded store through its admin endpoints', () => {
  let source: TestServer;
  let target: TestServer;
  let dir: string;
  const ids: string[] = [];
  /** Task id → [agent, the task as GetTask answered before the backup]. */
  const tasks = new Map<string, [string, Json]>();

  beforeAll(async () => {
    [source, target] = await Promise.all([startServer({ auth: AUTH }), startServer({ auth: AUTH })]);
    for (let i = 0; i < 5; i++) {
      const sent = await rest(
        source.url,
        'echo',
        'POST',
        '/message:send',
        { message: messageJson(`hi ${i}`) },
        ALICE,
      );
      expect(sent.status).toBe(200);
      ids.push(sent.json.task.id);
    }
    const paused = await rest(
      source.url,
      'countdown',
      'POST',
      '/message:send',
      { message: messageJson('count to 4 and ask') },
      ALICE,
    );
    ids.push(paused.json.task.id);
    for (const id of ids) {
      const agent = id === paused.json.task.id ? 'countdown' : 'echo';
      tasks.set(id, [agent, (await rest(source.url, agent, 'GET', `/tasks/${id}`, undefined, ALICE)).json]);
    }
    dir = mkdtempSync(join(tmpdir(), 'agentd-backup-http-'));
  }, 20_000);

  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a caller without the admin scope with PERMISSION_DENIED, and one without credentials', async () => {
    const denied = await readResponse(await fetch(`${source.url}/api/v1/admin/backup`, { headers: ALICE }));
    expect(denied.status).toBe(403);
    expect(denied.json.error.details[0].reason).toBe('PERMISSION_DENIED');
    expect(denied.json.error.message).toContain('agentd:admin');
    const restore = await readResponse(
      await fetch(`${target.url}/api/v1/admin/restore`, {
        method: 'POST',
        headers: { ...ALICE, 'content-type': 'application/x-ndjson' },
        body: '{}\n',
      }),
    );
    expect(restore.status).toBe(403);
    expect((await fetch(`${source.url}/api/v1/admin/backup`)).status).toBe(401);

    const cli = await agentdCli([
      'backup',
      '--from',
      source.url,
      '--out',
      join(dir, 'denied.ndjson'),
      '--api-key',
      'alice-key',
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('PERMISSION_DENIED');
  });

  it('a backup taken with `--from` restores with `--to` into another server: same tasks, same owners', async () => {
    const file = join(dir, 'embedded.ndjson');
    const backup = await agentdCli(['backup', '--from', source.url, '--out', file, '--api-key', 'ops-key']);
    expect(backup.stderr).toMatch(/^backed up 6 tasks, \d+ events, 0 push configs, \d+ checkpoints to /m);
    expect(backup.code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8').split('\n')[0] as string)).toMatchObject({
      source: 'memory',
    });

    const restore = await agentdCli(['restore', '--to', target.url, '--in', file], {
      AGENTD_API_KEY: 'ops-key',
    });
    expect(restore.stderr).toMatch(/^restored 6 tasks, skipped 0 /m);
    expect(restore.code).toBe(0);

    expect(await storeContents(target.server.store.backup as StoreBackup)).toEqual(
      await storeContents(source.server.store.backup as StoreBackup),
    );
    for (const [id, [agent, task]] of tasks) {
      const got = await rest(target.url, agent, 'GET', `/tasks/${id}`, undefined, ALICE);
      // Still alice's: she reads them as before.
      expect(got.status).toBe(200);
      expect(got.json).toEqual(task);
    }
    const again = await agentdCli(['restore', '--to', target.url, '--in', file, '--api-key', 'ops-key']);
    expect(again.stderr).toMatch(/^restored 0 tasks, skipped 6 /m);
  });
});
