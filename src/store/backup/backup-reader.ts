/**
 * Reads and verifies an `agentd backup` file (see backup-format.ts) a line at a time. Every
 * refusal is BACKUP_INVALID naming the line, so an operator knows where a file was cut or
 * altered. Restoring verifies the whole file first (a pass of this reader), then applies it
 * in a second pass: a corrupt file changes nothing.
 */
import { createHash } from 'node:crypto';
import { StreamResponse, Task, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { z } from 'zod';
import { err } from '../../errors.js';
import { backupKeyId, unseal } from './backup-crypto.js';
import type { QueuedWork, TaskBackup, TaskEventRecord } from '../ports.js';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  noCounts,
  sealedFor,
  type BackupCounts,
  type BackupHeader,
  type BackupTrailer,
} from './backup-format.js';

const header = z.object({
  type: z.literal('header'),
  format: z.literal(BACKUP_FORMAT),
  formatVersion: z.number().int(),
  agentdVersion: z.string(),
  createdAt: z.string(),
  source: z.enum(['memory', 'redis']),
  credentials: z.enum(['omitted', 'included', 'encrypted']),
  keyId: z.string().optional(),
});
const counts = z.object({
  tasks: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  pushConfigs: z.number().int().nonnegative(),
  checkpoints: z.number().int().nonnegative(),
  work: z.number().int().nonnegative(),
});
const record = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('task'),
    agent: z.string(),
    tenant: z.string(),
    owner: z.string(),
    version: z.number().int().positive(),
    lastSeq: z.number().int().nonnegative(),
    updatedAt: z.number(),
    task: z.object({ id: z.string().min(1) }).passthrough(),
  }),
  z.object({
    type: z.literal('event'),
    taskId: z.string(),
    seq: z.number().int().positive(),
    event: z.unknown(),
  }),
  z.object({
    type: z.literal('push'),
    taskId: z.string(),
    config: z.object({}).passthrough(),
    sealed: z.string().optional(),
  }),
  z.object({ type: z.literal('checkpoint'), taskId: z.string(), step: z.string(), value: z.string() }),
  z.object({
    type: z.literal('work'),
    taskId: z.string(),
    agent: z.string(),
    attempt: z.number().int().nonnegative(),
    payload: z.string(),
  }),
  z.object({ type: z.literal('trailer'), counts, sha256: z.string() }),
]);

/** A task being assembled from its lines. */
interface Pending {
  readonly record: TaskBackup['record'];
  readonly events: TaskEventRecord[];
  readonly pushConfigs: TaskPushNotificationConfig[];
  readonly checkpoints: Array<readonly [string, string]>;
  work?: QueuedWork;
}

function invalid(line: number, problem: string): Error {
  return err('BACKUP_INVALID', `Backup line ${line}: ${problem}`, { line: String(line) });
}

/**
 * One pass over a backup's lines. Iterate `tasks()` to the end: it yields each task once
 * its lines are complete and throws BACKUP_INVALID at the first bad line (or at the trailer,
 * when the checksum or counts disagree). `header` and `trailer` are set as they are read.
 */
export class BackupReader {
  header: BackupHeader | undefined;
  trailer: BackupTrailer | undefined;
  /** Push configs whose encrypted credentials were left blank (no key given). */
  sealedLeftOut = 0;

  /** @param key opens encrypted push-config credentials (see backup-crypto.ts); without it they stay blank. */
  constructor(private readonly key?: Buffer) {}

  async *tasks(lines: AsyncIterable<string>): AsyncGenerator<TaskBackup, void, undefined> {
    const hash = createHash('sha256');
    const seen: BackupCounts = noCounts();
    let n = 0;
    let pending: Pending | undefined;
    for await (const line of lines) {
      n++;
      if (this.trailer) {
        if (line.trim() === '') continue;
        throw invalid(n, 'content after the trailer');
      }
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        throw invalid(n, 'not a JSON object (the file is damaged)');
      }
      if (n === 1) {
        this.header = this.parseHeader(json);
        hash.update(`${line}\n`);
        continue;
      }
      const parsed = record.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw invalid(n, `${issue?.path.join('.') || 'record'}: ${issue?.message ?? 'invalid'}`);
      }
      const r = parsed.data;
      if (r.type === 'trailer') {
        const digest = hash.digest('hex');
        if (digest !== r.sha256)
          throw invalid(
            n,
            `checksum mismatch: the lines before the trailer were altered (sha256 ${digest}, trailer says ${r.sha256})`,
          );
        for (const key of Object.keys(seen) as Array<keyof BackupCounts>) {
          if (seen[key] !== r.counts[key])
            throw invalid(n, `the trailer counts ${r.counts[key]} ${key}, the file holds ${seen[key]}`);
        }
        this.trailer = r;
        // The last task only once the whole file checked out.
        if (pending) yield pending;
        pending = undefined;
        continue;
      }
      hash.update(`${line}\n`);
      if (r.type === 'task') {
        if (pending) yield pending;
        const task = decode(n, 'task', () => Task.fromJSON(r.task));
        pending = {
          record: {
            task,
            agent: r.agent,
            tenant: r.tenant,
            owner: r.owner || undefined,
            version: r.version,
            lastSeq: r.lastSeq,
            updatedAt: r.updatedAt,
          },
          events: [],
          pushConfigs: [],
          checkpoints: [],
        };
        seen.tasks++;
        continue;
      }
      if (!pending || r.taskId !== pending.record.task.id)
        throw invalid(
          n,
          `${r.type === 'event' ? 'an' : 'a'} ${r.type} record of task ${r.taskId} outside that task's lines`,
        );
      if (r.type === 'event') {
        const last = pending.events[pending.events.length - 1];
        if (last && r.seq !== last.seq + 1) throw invalid(n, `event sequence ${r.seq} after ${last.seq}`);
        pending.events.push({
          seq: r.seq,
          event: decode(n, 'event', () => StreamResponse.fromJSON(r.event)),
        });
        seen.events++;
      } else if (r.type === 'push') {
        const config = decode(n, 'config', () => TaskPushNotificationConfig.fromJSON(r.config));
        pending.pushConfigs.push(this.opened(n, config, r.sealed));
        seen.pushConfigs++;
      } else if (r.type === 'checkpoint') {
        pending.checkpoints.push([r.step, r.value]);
        seen.checkpoints++;
      } else {
        if (pending.work) throw invalid(n, `a second work record of task ${r.taskId}`);
        pending.work = { agent: r.agent, attempt: r.attempt, payload: r.payload };
        seen.work++;
      }
    }
    if (n === 0) throw invalid(1, 'the file is empty');
    if (!this.trailer) throw invalid(n, 'the file ends without its trailer (it was cut short)');
  }

  /** The config with its sealed credentials opened, when there are some and a key. */
  private opened(
    line: number,
    config: TaskPushNotificationConfig,
    sealed: string | undefined,
  ): TaskPushNotificationConfig {
    if (sealed === undefined || this.header?.credentials !== 'encrypted') return config;
    if (!this.key) {
      this.sealedLeftOut++;
      return config;
    }
    const key = this.key;
    const secrets = decode(
      line,
      'sealed credentials',
      () =>
        JSON.parse(unseal(key, sealedFor(config.taskId, config.id), sealed)) as {
          token: string;
          credentials: string;
        },
    );
    return {
      ...config,
      token: secrets.token,
      authentication: config.authentication
        ? { ...config.authentication, credentials: secrets.credentials }
        : undefined,
    };
  }

  private parseHeader(json: unknown): BackupHeader {
    const parsed = header.safeParse(json);
    if (!parsed.success) throw invalid(1, `not an ${BACKUP_FORMAT} header`);
    if (parsed.data.formatVersion !== BACKUP_FORMAT_VERSION)
      throw invalid(
        1,
        `format version ${parsed.data.formatVersion} is not supported (this agentd reads version ${BACKUP_FORMAT_VERSION})`,
      );
    const h = parsed.data as BackupHeader;
    if (h.credentials === 'encrypted' && this.key && h.keyId !== backupKeyId(this.key))
      throw invalid(
        1,
        `the push credentials are encrypted with key ${h.keyId ?? '(unnamed)'}, not with the key given (${backupKeyId(this.key)})`,
      );
    return h;
  }
}

function decode<T>(line: number, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw invalid(line, `the ${what} does not decode: ${(error as Error).message}`);
  }
}
