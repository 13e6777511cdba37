/**
 * The `agentd backup` file: NDJSON, one JSON object a line. A header names the format and
 * its version; then each task as a `task` line followed by its `event`, `push` and
 * `checkpoint` lines; then a trailer with the counts and the SHA-256 of every line before it
 * (header included, each with its `\n`). A task that was queued or running also has a `work`
 * line: its queue entry, so a restore queues it again. A reader can therefore restore a task at a time in
 * bounded memory, and still refuse a file that was truncated or altered anywhere.
 */
import { createHash, type Hash } from 'node:crypto';
import { StreamResponse, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { taskJson } from '../../codec.js';
import { backupKeyId, seal } from './backup-crypto.js';
import type { TaskBackup } from '../ports.js';

/** The `format` of the header line. */
export const BACKUP_FORMAT = 'agentd-backup';
/** The version of the format this agentd writes and reads. */
export const BACKUP_FORMAT_VERSION = 1;

/** Where a backup came from: the store kind. */
export type BackupSourceKind = 'memory' | 'redis';

export interface BackupHeader {
  readonly type: 'header';
  readonly format: typeof BACKUP_FORMAT;
  readonly formatVersion: number;
  readonly agentdVersion: string;
  /** ISO 8601 instant the export started. */
  readonly createdAt: string;
  readonly source: BackupSourceKind;
  /**
   * Push-config credentials (`token`, `authentication.credentials`): left out (blank), in
   * the clear, or encrypted (each push line's `sealed`) with the key named by `keyId`.
   */
  readonly credentials: CredentialsMode;
  /** With encrypted credentials: which key (see backup-crypto.ts). */
  readonly keyId?: string;
}

/** How a backup carries push-config credentials. */
export type CredentialsMode = 'omitted' | 'included' | 'encrypted';

/** What a writer does with credentials: leave them out, keep them, or encrypt them with a key. */
export type CredentialsPolicy = 'omitted' | 'included' | { readonly key: Buffer };

/** How many records of each kind a backup holds. */
export interface BackupCounts {
  tasks: number;
  events: number;
  pushConfigs: number;
  checkpoints: number;
  /** Queue entries of tasks that were waiting or running. */
  work: number;
}

export interface BackupTrailer {
  readonly type: 'trailer';
  readonly counts: BackupCounts;
  /** Hex SHA-256 over every line before the trailer, each with its newline. */
  readonly sha256: string;
}

/** Zero counts. */
export function noCounts(): BackupCounts {
  return { tasks: 0, events: 0, pushConfigs: 0, checkpoints: 0, work: 0 };
}

/** A push config without the secrets a webhook is called with (the default: backups are often copied around). */
export function withoutCredentials(config: TaskPushNotificationConfig): TaskPushNotificationConfig {
  return {
    ...config,
    token: '',
    authentication: config.authentication ? { ...config.authentication, credentials: '' } : undefined,
  };
}

/**
 * Turns tasks into backup lines, hashing as it goes. `line()` results are to be written in
 * the order they are produced; `trailer()` comes last.
 */
export class BackupWriter {
  private readonly hash: Hash = createHash('sha256');
  readonly counts: BackupCounts = noCounts();

  constructor(private readonly credentials: CredentialsPolicy = 'omitted') {}

  /** The header line (with its newline). */
  header(source: BackupSourceKind, agentdVersion: string, createdAt: Date): string {
    const header: BackupHeader = {
      type: 'header',
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      agentdVersion,
      createdAt: createdAt.toISOString(),
      source,
      ...(typeof this.credentials === 'string'
        ? { credentials: this.credentials }
        : { credentials: 'encrypted', keyId: backupKeyId(this.credentials.key) }),
    };
    return this.hashed(header);
  }

  /** The lines of one task (its snapshot, events, push configs, checkpoints), as one string. */
  task(b: TaskBackup): string {
    const { record } = b;
    const id = record.task.id;
    let out = this.hashed({
      type: 'task',
      agent: record.agent,
      tenant: record.tenant,
      owner: record.owner ?? '',
      version: record.version,
      lastSeq: record.lastSeq,
      updatedAt: record.updatedAt,
      task: taskJson(record.task),
    });
    for (const e of b.events)
      out += this.hashed({ type: 'event', taskId: id, seq: e.seq, event: StreamResponse.toJSON(e.event) });
    for (const c of b.pushConfigs) {
      const policy = this.credentials;
      const config = policy === 'included' ? c : withoutCredentials(c);
      const line: Record<string, unknown> = {
        type: 'push',
        taskId: id,
        config: TaskPushNotificationConfig.toJSON(config),
      };
      if (typeof policy === 'object') line.sealed = seal(policy.key, sealedFor(id, c.id), credentialsJson(c));
      out += this.hashed(line);
    }
    for (const [step, value] of b.checkpoints)
      out += this.hashed({ type: 'checkpoint', taskId: id, step, value });
    if (b.work) {
      const { agent, attempt } = b.work;
      const payload =
        this.credentials === 'included' ? b.work.payload : payloadWithoutCredentials(b.work.payload);
      out += this.hashed({ type: 'work', taskId: id, agent, attempt, payload });
      this.counts.work++;
    }
    this.counts.tasks++;
    this.counts.events += b.events.length;
    this.counts.pushConfigs += b.pushConfigs.length;
    this.counts.checkpoints += b.checkpoints.length;
    return out;
  }

  /** The trailer line: counts and checksum of everything written before it. */
  trailer(): string {
    const trailer: BackupTrailer = {
      type: 'trailer',
      counts: { ...this.counts },
      sha256: this.hash.digest('hex'),
    };
    return `${JSON.stringify(trailer)}\n`;
  }

  private hashed(value: object): string {
    const line = `${JSON.stringify(value)}\n`;
    this.hash.update(line);
    return line;
  }
}

/** The additional data a config's sealed credentials are bound to. */
export function sealedFor(taskId: string, configId: string): string {
  return `${taskId}\n${configId}`;
}

/** The secret parts of a push config, as the text that is sealed. */
function credentialsJson(c: TaskPushNotificationConfig): string {
  return JSON.stringify({ token: c.token, credentials: c.authentication?.credentials ?? '' });
}

/**
 * A queue payload (see engine/queued-request.ts) without the credentials of a push config
 * sent with the request: the stored push config is what a backup keeps (or seals) them in.
 */
function payloadWithoutCredentials(payload: string): string {
  if (!payload.includes('taskPushNotificationConfig')) return payload;
  try {
    const queued = JSON.parse(payload) as {
      request?: { configuration?: { taskPushNotificationConfig?: Record<string, unknown> } };
    };
    const config = queued.request?.configuration?.taskPushNotificationConfig;
    if (!config) return payload;
    config.token = '';
    const auth = config.authentication as Record<string, unknown> | undefined;
    if (auth) auth.credentials = '';
    return JSON.stringify(queued);
  } catch {
    return payload; // not the engine's JSON: kept as stored
  }
}
