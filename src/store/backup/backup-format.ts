/**
 * The `agentd backup` file: NDJSON, one JSON object a line. A header names the format and
 * its version; then each task as a `task` line followed by its `event`, `push` and
 * `checkpoint` lines; then a trailer with the counts and the SHA-256 of every line before it
 * (header included, each with its `\n`). A reader can therefore restore a task at a time in
 * bounded memory, and still refuse a file that was truncated or altered anywhere.
 */
import { createHash, type Hash } from 'node:crypto';
import { StreamResponse, TaskPushNotificationConfig } from '@a2a-js/sdk';
import { taskJson } from '../../codec.js';
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
  /** Whether push-config credentials (`token`, `authentication.credentials`) were left out. */
  readonly credentialsOmitted: boolean;
}

/** How many records of each kind a backup holds. */
export interface BackupCounts {
  tasks: number;
  events: number;
  pushConfigs: number;
  checkpoints: number;
}

export interface BackupTrailer {
  readonly type: 'trailer';
  readonly counts: BackupCounts;
  /** Hex SHA-256 over every line before the trailer, each with its newline. */
  readonly sha256: string;
}

/** Zero counts. */
export function noCounts(): BackupCounts {
  return { tasks: 0, events: 0, pushConfigs: 0, checkpoints: 0 };
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

  constructor(private readonly omitCredentials = true) {}

  /** The header line (with its newline). */
  header(source: BackupSourceKind, agentdVersion: string, createdAt: Date): string {
    const header: BackupHeader = {
      type: 'header',
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      agentdVersion,
      createdAt: createdAt.toISOString(),
      source,
      credentialsOmitted: this.omitCredentials,
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
      const config = this.omitCredentials ? withoutCredentials(c) : c;
      out += this.hashed({ type: 'push', taskId: id, config: TaskPushNotificationConfig.toJSON(config) });
    }
    for (const [step, value] of b.checkpoints)
      out += this.hashed({ type: 'checkpoint', taskId: id, step, value });
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
