/**
 * `agentd backup` and `agentd restore`: the state store to an NDJSON file and back (format in
 * src/store/backup/backup-format.ts), from a Redis directly or from a running server's admin
 * endpoints. A backup file is written under `<file>.partial` and renamed when complete, so a
 * file with the final name is always whole; a restore verifies the whole file before it
 * writes anything.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { BackupCounts } from '../store/backup/backup-format.js';
import { BackupReader } from '../store/backup/backup-reader.js';
import { backupChunks, restoreBackup } from '../store/backup/backup-stream.js';
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

type BackupOpts = RedisArgs & ClientArgs & { out: string; from?: string; includeCredentials?: boolean };
type RestoreOpts = RedisArgs & ClientArgs & { in: string; to?: string; force?: boolean };

function redisOptions(command: Command): Command {
  return command
    .option('--redis-url <url>', 'the Redis to use (default: the store of --config / the server’s env)')
    .option('--key-prefix <prefix>', 'key prefix of the deployment (default: store.redis.keyPrefix, agentd:)')
    .option('-c, --config <file>', 'the servers’ YAML config, for the Redis, key prefix and retention');
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
  return `${c.tasks} tasks, ${c.events} events, ${c.pushConfigs} push configs, ${c.checkpoints} checkpoints`;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(2)} s`;
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
    .option('--include-credentials', 'keep push-config credentials (left out by default)');
  /** Writes the backup of the source `opts` names to `sink()`; the counts written. */
  const exportTo = async (
    opts: BackupOpts,
    sink: () => Writable,
    onProgress: (c: Readonly<BackupCounts>) => void,
  ): Promise<BackupCounts> => {
    const keepOpen = opts.out === '-';
    if (opts.from) {
      if (opts.redisUrl) throw new UsageError('--from and --redis-url exclude each other');
      const body = await fetchBackup(opts.from, opts, cli.env, await cli.outbound(opts));
      return writeCounting(body, sink(), keepOpen, onProgress);
    }
    const redis = await openRedis(opts, cli.env);
    try {
      let seen: Readonly<BackupCounts> = { tasks: 0, events: 0, pushConfigs: 0, checkpoints: 0 };
      const chunks = backupChunks(redis.store, 'redis', {
        omitCredentials: !opts.includeCredentials,
        onProgress: (c) => {
          seen = c;
          onProgress(c);
        },
      });
      await pipeline(Readable.from(chunks), sink(), { end: !keepOpen });
      return { ...seen };
    } finally {
      await redis.close();
    }
  };
  clientOptions(redisOptions(backup)).action(async (opts: BackupOpts) => {
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
    .option('--force', 'overwrite tasks even where the stored version is newer');
  clientOptions(redisOptions(restore)).action(async (opts: RestoreOpts) => {
    const started = performance.now();
    const bar = progress(cli.stderr);
    let file = opts.in;
    let spool: string | undefined;
    if (file === '-') {
      // stdin is read once; the restore reads twice (verify, then apply).
      spool = await mkdtemp(join(tmpdir(), 'agentd-restore-'));
      file = join(spool, 'backup.ndjson');
      await pipeline(cli.stdin, createWriteStream(file));
    }
    const lines = (): AsyncIterable<string> =>
      createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    try {
      let result: { restored: number; skipped: number };
      if (opts.to) {
        if (opts.redisUrl) throw new UsageError('--to and --redis-url exclude each other');
        // Verified here first: a damaged file is refused without a round trip, naming its line.
        for await (const _ of new BackupReader().tasks(lines())) {
          // verifying only
        }
        result = await postRestore(opts.to, createReadStream(file), opts, cli.env, await cli.outbound(opts));
      } else {
        const redis = await openRedis(opts, cli.env);
        try {
          result = await restoreBackup(redis.store, lines, {
            force: opts.force ?? false,
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
    } finally {
      if (spool) await rm(spool, { recursive: true, force: true });
    }
  });
}

/** Copies a server's backup to `sink`, counting records as they pass; the counts of its trailer. */
async function writeCounting(
  body: Readable,
  sink: Writable,
  keepOpen: boolean,
  onProgress: (c: Readonly<BackupCounts>) => void,
): Promise<BackupCounts> {
  const counts: BackupCounts = { tasks: 0, events: 0, pushConfigs: 0, checkpoints: 0 };
  let trailer: BackupCounts | undefined;
  let rest = '';
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const type = /^\{"type":"(\w+)"/.exec(line)?.[1];
        if (type === 'task') counts.tasks++;
        else if (type === 'event') counts.events++;
        else if (type === 'trailer') trailer = (JSON.parse(line) as { counts: BackupCounts }).counts;
      }
      onProgress(counts);
      done(null, chunk);
    },
  });
  await pipeline(body, count, sink, { end: !keepOpen });
  if (!trailer)
    throw new Error('backup failed: the server ended the file early (no trailer); nothing was kept');
  return trailer;
}
