import { createHash, randomBytes } from 'node:crypto';
import { TaskState, type StreamResponse, type Task } from '@a2a-js/sdk';
import { describe, expect, it } from 'vitest';
import { BackupWriter, type CredentialsPolicy } from '../../../src/store/backup/backup-format.js';
import { BackupReader } from '../../../src/store/backup/backup-reader.js';
import type { TaskBackup } from '../../../src/store/ports.js';

function task(id: string): Task {
  return {
    id,
    contextId: 'ctx',
    status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: undefined },
    artifacts: [],
    history: [],
    metadata: undefined,
  };
}

function statusEvent(id: string): StreamResponse {
  return {
    payload: {
      $case: 'statusUpdate',
      value: {
        taskId: id,
        contextId: 'ctx',
        status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: undefined },
        metadata: undefined,
      },
    },
  };
}

function backupOf(id: string): TaskBackup {
  return {
    record: {
      task: task(id),
      agent: 'echo',
      tenant: '',
      owner: 'alice',
      version: 3,
      lastSeq: 2,
      updatedAt: 1000,
    },
    events: [
      { seq: 1, event: statusEvent(id) },
      { seq: 2, event: statusEvent(id) },
    ],
    pushConfigs: [
      {
        tenant: '',
        id: 'hook',
        taskId: id,
        url: 'https://hooks.example.com/',
        token: 'tok',
        authentication: { scheme: 'Bearer', credentials: 'secret' },
      },
    ],
    checkpoints: [['fetch', '{"rows":3}']],
    work: { agent: 'echo', attempt: 1, payload: '{"agent":"echo","tenant":""}' },
  };
}

/** A file of these tasks, as lines. */
function fileOf(tasks: TaskBackup[], credentials: CredentialsPolicy = 'included'): string[] {
  const w = new BackupWriter(credentials);
  const text =
    w.header('redis', '0.0.0-test', new Date(0)) + tasks.map((t) => w.task(t)).join('') + w.trailer();
  return text.trimEnd().split('\n');
}

async function read(lines: string[], key?: Buffer): Promise<TaskBackup[]> {
  const out: TaskBackup[] = [];
  async function* each(): AsyncGenerator<string> {
    yield* lines;
  }
  for await (const t of new BackupReader(key).tasks(each())) out.push(t);
  return out;
}

describe('the backup file format', () => {
  it('reads back exactly what was written, a task at a time', async () => {
    const tasks = [backupOf('a'), backupOf('b')];
    const back = await read(fileOf(tasks));
    expect(back).toEqual(tasks);
  });

  it('refuses records out of place, gaps in the event sequence and content after the trailer, naming the line', async () => {
    const lines = fileOf([backupOf('a'), backupOf('b')]);
    // lines: 1 header, 2 task a, 3-4 events, 5 push, 6 checkpoint, 7 work, 8 task b, ...
    const swapped = [...lines];
    [swapped[2], swapped[8]] = [swapped[8] as string, swapped[2] as string];
    await expect(read(swapped)).rejects.toThrow(
      /Backup line 3: an event record of task b outside that task's lines/,
    );
    const gap = lines.map((l, i) => (i === 3 ? l.replace('"seq":2', '"seq":3') : l));
    await expect(read(gap)).rejects.toThrow(/Backup line 4: event sequence 3 after 1/);
    await expect(read([...lines, '{"type":"task"}'])).rejects.toThrow(
      /Backup line 15: content after the trailer/,
    );
    await expect(read(['not json'])).rejects.toThrow(/Backup line 1: not a JSON object/);
    await expect(read([])).rejects.toThrow(/Backup line 1: the file is empty/);
  });

  it('seals push credentials per config: another key or a sealed value moved to another config does not open', async () => {
    const key = randomBytes(32);
    const lines = fileOf([backupOf('a'), backupOf('b')], { key });
    expect(lines.join('\n')).not.toContain('secret');
    expect((await read(lines, key)).map((t) => t.pushConfigs)).toEqual(
      [backupOf('a'), backupOf('b')].map((t) => t.pushConfigs),
    );
    // Without the key: blank credentials.
    const blank = await read(lines);
    expect(blank[0]?.pushConfigs[0]).toMatchObject({
      token: '',
      authentication: { scheme: 'Bearer', credentials: '' },
    });
    await expect(read(lines, randomBytes(32))).rejects.toThrow(
      /Backup line 1: the push credentials are encrypted with key/,
    );

    // Task b's sealed value copied onto task a's config (and the checksum recomputed by a forger).
    const sealedOf = (i: number): string => (JSON.parse(lines[i] as string) as { sealed: string }).sealed;
    const moved = [...lines];
    moved[4] = (lines[4] as string).replace(sealedOf(4), sealedOf(10));
    const forged = reChecksummed(moved);
    await expect(read(forged, key)).rejects.toThrow(/Backup line 5: the sealed credentials does not decode/);
  });
});

/** The lines with the trailer's checksum recomputed (what someone altering a file would do). */
function reChecksummed(lines: string[]): string[] {
  const body = lines.slice(0, -1);
  const hash = createHash('sha256');
  for (const l of body) hash.update(`${l}\n`);
  const trailer = JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
  return [...body, JSON.stringify({ ...trailer, sha256: hash.digest('hex') })];
}
