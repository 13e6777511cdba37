/**
 * `agentd backup` and `agentd restore`: the state store to an NDJSON file and back (format in
 * src/store/backup/backup-format.ts), from a Redis directly or from a running server's admin
 * endpoints. A backup file is written under `<file>.partial` and renamed when complete, so a
 * file with the final name is always whole; a restore verifies the whole file before it
 * writes anything.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { VERSION } from '../version.js';
import { parseBackupKey } from '../store/backup/backup-crypto.js';
import {
  BackupWriter,
  noCounts,
  type BackupCounts,
  type CredentialsPolicy,
} from '../store/backup/backup-format.js';
import { BackupReader } from '../store/backup/backup-reader.js';
import { backupChunks, restoreBackup, type RestoreResult } from '../store/backup/backup-stream.js';
import type { Outbound } from '../security/outbound.js';
import { UsageError } from './args.js';
import { openRedis, fetchBackup, postRestore, type RedisArgs } from './backup-targets.js';
import { clientOptions, type ClientArgs } from './client-options.js';

/** What the commands need of the CLI run they belong to. */
export interface BackupCli {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Outbound TLS from --ca/--cert/--key (closed by the CLI when the command ends). */
  outbound(opts: ClientArgs): Promise<Outbound>;
}

interface KeyArgs {
  readonly encryptKeyFile?: string;
}
type BackupOpts = RedisArgs &
  ClientArgs &
  KeyArgs & { out: string; from?: string; includeCredentials?: boolean };
type RestoreOpts = RedisArgs & ClientArgs & KeyArgs & { in: string; to?: string; force?: boolean };

function sharedOptions(command: Command): Command {
  return command
    .option('--redis-url <url>', 'the Redis to use (default: the store of --config / the server’s env)')
    .option('--key-prefix <prefix>', 'key prefix of the deployment (default: store.redis.keyPrefix, agentd:)')
    .option('-c, --config <file>', 'the servers’ YAML config, for the Redis, key prefix and retention')
    .option(
      '--encrypt-key-file <file>',
      'AES-256-GCM key for push-config credentials (32 bytes, 64 hex digits or base64)',
    );
}

/** The key of `--encrypt-key-file`, if given; a bad file is a usage error. */
async function keyOf(opts: KeyArgs): Promise<Buffer | undefined> {
  if (!opts.encryptKeyFile) return undefined;
  try {
    return parseBackupKey(await readFile(opts.encryptKeyFile));
  } catch (error) {
    throw new UsageError(`--encrypt-key-file ${opts.encryptKeyFile}: ${(error as Error).message}`);
  }
}

/** A progress line on a terminal, at most a few times a second. */
function progress(stderr: NodeJS.WritableStream): { update(line: string): void; done(): void } {
  const tty = (stderr as { isTTY?: boolean }).isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(line) {
      const now = Date.now();
      if (!tty || now - last < 200) return;
      last = now;
      shown = true;
      stderr.write(`\r\x1b[K${line}`);
    },
    done() {
      if (shown) stderr.write('\r\x1b[K');
    },
  };
}

function describe(c: Readonly<BackupCounts>): string {
  const queued = c.work > 0 ? `, ${c.work} queued or running` : '';
  return `${c.tasks} tasks, ${c.events} events, ${c.pushConfigs} push configs, ${c.checkpoints} checkpoints${queued}`;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)} s`;
}

/** A file's lines, read afresh on each call. */
function fileLines(file: string): () => AsyncIterable<string> {
  return () => createInterface({ input: createReadStream(file), crlfDelay: Infinity });
}

/**
 * Re-writes a backup read from `lines` with another credentials policy (and so a new
 * checksum), verifying the original as it goes: the last chunk comes only after its trailer
 * checked out.
 */
async function* rewritten(
  lines: AsyncIterable<string>,
  credentials: CredentialsPolicy,
  key: Buffer | undefined,
  onProgress?: (c: Readonly<BackupCounts>) => void,
): AsyncGenerator<string, void, undefined> {
  const reader = new BackupReader(key);
  const writer = new BackupWriter(credentials);
  let headed = false;
  const header = (): string => {
    headed = true;
    const h = reader.header;
    return h ? writer.header(h.source, VERSION, new Date(h.createdAt)) : '';
  };
  for await (const task of reader.tasks(lines)) {
    if (!headed) yield header();
    yield writer.task(task);
    onProgress?.(writer.counts);
  }
  if (!headed) yield header();
  yield writer.trailer();
}

export function addBackupCommands(program: Command, cli: BackupCli): void {
  const backup = program
    .command('backup')
    .description('export every task (snapshot, events, push configs, checkpoints) to an NDJSON file')
    .requiredOption(
      '-o, --out <file>',
      'file to write (- for stdout); written as <file>.partial, then renamed',
    )
    .option('--from <url>', 'a running server to back up through GET /api/v1/admin/backup (embedded store)')
    .option('--include-credentials', 'keep push-config credentials in the clear (left out by default)')
    .addHelpText(
      'after',
      `
Examples:
  agentd backup --out agentd.ndjson --config /etc/agentd/agentd.yaml
  agentd backup --out - --redis-url redis://localhost:6379 | gzip > agentd.ndjson.gz
  agentd backup --from http://localhost:8080 --api-key "$ADMIN_KEY" --out agentd.ndjson

Exit codes: 0 done, 1 the store or server failed (no file is left), 2 bad usage.`,
    );

  /** Writes the backup of the source `opts` names to `sink()`; the counts written. */
  const exportTo = async (
    opts: BackupOpts,
    sink: () => Writable,
    onProgress: (c: Readonly<BackupCounts>) => void,
  ): Promise<BackupCounts> => {
    const end = opts.out !== '-';
    const key = await keyOf(opts);
    const credentials: CredentialsPolicy = key ? { key } : opts.includeCredentials ? 'included' : 'omitted';
    let chunks: AsyncIterable<string>;
    let counted: Readonly<BackupCounts> = noCounts();
    const count = (c: Readonly<BackupCounts>): void => {
      counted = c;
      onProgress(c);
    };
    let close = async (): Promise<void> => {};
    if (opts.from) {
      if (opts.redisUrl) throw new UsageError('--from and --redis-url exclude each other');
      const body = await fetchBackup(
        opts.from,
        { ...opts, includeCredentials: credentials !== 'omitted' },
        cli.env,
        await cli.outbound(opts),
      );
      // Read and written again here: verified on the way, and sealed with the key if there is one.
      chunks = rewritten(
        createInterface({ input: body, crlfDelay: Infinity }),
        credentials,
        undefined,
        count,
      );
    } else {
      const redis = await openRedis(opts, cli.env);
      close = () => redis.close();
      chunks = backupChunks(redis.store, 'redis', { credentials, onProgress: count });
    }
    try {
      await pipeline(Readable.from(chunks), sink(), { end });
      return { ...counted };
    } finally {
      await close();
    }
  };

  sharedOptions(clientOptions(backup)).action(async (opts: BackupOpts) => {
    const started = performance.now();
    const bar = progress(cli.stderr);
    const sink = (): Writable =>
      opts.out === '-' ? (cli.stdout as Writable) : createWriteStream(`${opts.out}.partial`);
    let counts: BackupCounts;
    try {
      counts = await exportTo(opts, sink, (c) => bar.update(`backed up ${describe(c)}`));
    } catch (error) {
      if (opts.out !== '-') await unlink(`${opts.out}.partial`).catch(() => {});
      throw error;
    }
    if (opts.out !== '-') await rename(`${opts.out}.partial`, opts.out);
    bar.done();
    cli.stderr.write(
      `backed up ${describe(counts)} to ${opts.out === '-' ? 'stdout' : opts.out} in ${seconds(started)}\n`,
    );
  });

  const restore = program
    .command('restore')
    .description(
      'load a backup file into the store; tasks stored at the same or a newer version are left alone',
    )
    .requiredOption('-i, --in <file>', 'backup file to read (- for stdin)')
    .option('--to <url>', 'a running server to restore through POST /api/v1/admin/restore (embedded store)')
    .option('--force', 'overwrite tasks even where the stored version is newer')
    .addHelpText(
      'after',
      `
The whole file is verified (format version, every line, SHA-256 checksum) before anything is
written; running the same restore twice changes nothing.

Examples:
  agentd restore --in agentd.ndjson --config /etc/agentd/agentd.yaml
  gunzip -c agentd.ndjson.gz | agentd restore --in - --redis-url redis://localhost:6379
  agentd restore --in agentd.ndjson --to http://localhost:8080 --api-key "$ADMIN_KEY"

Exit codes: 0 done, 1 a damaged file (BACKUP_INVALID, naming the line) or the store failed, 2 bad usage.`,
    );
  sharedOptions(clientOptions(restore)).action(async (opts: RestoreOpts) => {
    const started = performance.now();
    const bar = progress(cli.stderr);
    const key = await keyOf(opts);
    // stdin is read once, a restore reads its file twice (verify, then apply); a file sent to
    // a server with encrypted credentials is opened here first (the key stays here).
    const spool = await mkdtemp(join(tmpdir(), 'agentd-restore-'));
    try {
      let file = opts.in;
      if (file === '-') {
        file = join(spool, 'backup.ndjson');
        await pipeline(cli.stdin, createWriteStream(file));
      }
      let result: RestoreResult;
      if (opts.to) {
        if (opts.redisUrl) throw new UsageError('--to and --redis-url exclude each other');
        // Verified here first: a damaged file is refused without a round trip, naming its line.
        const check = new BackupReader(key);
        for await (const _ of check.tasks(fileLines(file)())) {
          // verifying only
        }
        if (key && check.header?.credentials === 'encrypted') {
          const opened = join(spool, 'opened.ndjson');
          await pipeline(
            Readable.from(rewritten(fileLines(file)(), 'included', key)),
            createWriteStream(opened, { mode: 0o600 }),
          );
          file = opened;
        }
        result = await postRestore(opts.to, createReadStream(file), opts, cli.env, await cli.outbound(opts));
      } else {
        const redis = await openRedis(opts, cli.env);
        try {
          result = await restoreBackup(redis.store, fileLines(file), {
            force: opts.force ?? false,
            key,
            onProgress: (n) => bar.update(`restored ${n} tasks`),
          });
        } finally {
          await redis.close();
        }
      }
      bar.done();
      cli.stderr.write(
        `restored ${result.restored} tasks, skipped ${result.skipped} (stored at the same or a newer version) in ${seconds(started)}\n`,
      );
      if (result.credentialsLeftOut > 0)
        cli.stderr.write(
          `note: ${result.credentialsLeftOut} push configs were restored without their credentials: they are encrypted in the file; give --encrypt-key-file to restore them\n`,
        );
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  });
}
