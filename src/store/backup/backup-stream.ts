/**
 * Backup and restore over any {@link StoreBackup}: the CLI runs them against Redis, a running
 * server's admin endpoints against its own store.
 */
import { VERSION } from '../../version.js';
import type { StoreBackup } from '../ports.js';
import {
  BackupWriter,
  noCounts,
  type BackupCounts,
  type BackupSourceKind,
  type CredentialsPolicy,
} from './backup-format.js';
import { BackupReader } from './backup-reader.js';

export interface BackupOptions {
  /** What to do with push-config credentials (default: leave them out). */
  readonly credentials?: CredentialsPolicy;
  /** Called after each task written, with the counts so far. */
  readonly onProgress?: (counts: Readonly<BackupCounts>) => void;
}

/**
 * The backup file as a sequence of text chunks (header, then a chunk per task, then the
 * trailer); write them in order. Tasks are exported one at a time, so memory stays bounded.
 */
export async function* backupChunks(
  store: StoreBackup,
  source: BackupSourceKind,
  options: BackupOptions = {},
): AsyncGenerator<string, void, undefined> {
  const writer = new BackupWriter(options.credentials ?? 'omitted');
  yield writer.header(source, VERSION, new Date());
  for await (const task of store.export()) {
    yield writer.task(task);
    options.onProgress?.(writer.counts);
  }
  yield writer.trailer();
}

/** What a restore did. */
export interface RestoreResult {
  /** Tasks written (with their events, push configs and checkpoints). */
  readonly restored: number;
  /** Tasks left alone: a version at least as new was stored. */
  readonly skipped: number;
  /** What the file holds (its trailer). */
  readonly counts: BackupCounts;
  /** Push configs restored without their credentials: they were encrypted and no key was given. */
  readonly credentialsLeftOut: number;
}

/**
 * Verifies the whole backup (format version, every line, checksum and counts), then
 * restores it task by task: a corrupt file throws BACKUP_INVALID naming the line and
 * changes nothing. `lines` is called once per pass, so it must give the same lines twice
 * (a file read again, or lines held in memory).
 */
export async function restoreBackup(
  store: StoreBackup,
  lines: () => AsyncIterable<string>,
  options: {
    readonly force?: boolean;
    readonly onProgress?: (done: number) => void;
    /** Opens encrypted push-config credentials (without it they are restored blank). */
    readonly key?: Buffer | undefined;
  } = {},
): Promise<RestoreResult> {
  const check = new BackupReader(options.key);
  for await (const _ of check.tasks(lines())) {
    // The first pass only verifies.
  }
  const reader = new BackupReader(options.key);
  let restored = 0;
  let skipped = 0;
  for await (const task of reader.tasks(lines())) {
    if (await store.restore(task, options.force ?? false)) restored++;
    else skipped++;
    options.onProgress?.(restored + skipped);
  }
  return {
    restored,
    skipped,
    counts: reader.trailer?.counts ?? noCounts(),
    credentialsLeftOut: reader.sealedLeftOut,
  };
}
