/**
 * `GET /api/v1/admin/backup` and `POST /api/v1/admin/restore`: the server's own store
 * exported and restored as an `agentd backup` file (NDJSON), for `agentd backup --from` and
 * `agentd restore --to`. The embedded store lives in the server's memory, so these are the
 * only way to back it up. With authentication on, only admins may call them.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { err } from '../../errors.js';
import { ANONYMOUS } from '../../security/principal.js';
import type { BackupSourceKind } from '../../store/backup/backup-format.js';
import { backupChunks, restoreBackup } from '../../store/backup/backup-stream.js';
import type { StoreBackup } from '../../store/ports.js';
import { queryParam } from './http-context.js';
import { sendRestError } from './http-errors.js';

/** The content type of backup files. */
export const NDJSON = 'application/x-ndjson';
/**
 * Largest restore body. The embedded store holds everything in memory, and the body is
 * held too (it is verified in full before anything is written), so this bounds the peak.
 */
export const MAX_RESTORE_BYTES = 1024 * 1024 * 1024;

export interface BackupRouteOptions {
  readonly store: StoreBackup;
  readonly kind: BackupSourceKind;
  readonly logger: Logger;
  /** With authentication on: the scope that makes an admin (named in refusals); undefined: the open mode. */
  readonly adminScope: string | undefined;
}

export function registerBackupRoutes(app: FastifyInstance, options: BackupRouteOptions): void {
  const { store, kind, logger, adminScope } = options;
  /** Refuses a caller who is not an admin; whether it did. */
  const refused = (request: FastifyRequest, reply: FastifyReply, what: string): boolean => {
    if (adminScope === undefined || (request.principal ?? ANONYMOUS).admin) return false;
    void sendRestError(logger, reply, err('PERMISSION_DENIED', `${what} requires the scope ${adminScope}`));
    return true;
  };

  app.get('/api/v1/admin/backup', (request, reply) => {
    if (refused(request, reply, 'Backing up the store')) return reply;
    const credentials = queryParam(request, 'includeCredentials') === 'true' ? 'included' : 'omitted';
    const body = Readable.from(backupChunks(store, kind, { credentials }));
    // A failure half-way ends the response early: the file then has no trailer and
    // `agentd restore` refuses it.
    body.on('error', (error) => logger.error({ err: error }, 'Backup export failed'));
    return reply.type(NDJSON).header('cache-control', 'no-store').send(body);
  });

  void app.register(async (scope) => {
    // The body stays a stream here: it is read line by line below, within its own limit.
    scope.addContentTypeParser(NDJSON, (_request, payload, done) => done(null, payload));
    scope.post('/api/v1/admin/restore', async (request, reply) => {
      if (refused(request, reply, 'Restoring the store')) return reply;
      let lines: string[];
      try {
        lines = await readLines(request.body as Readable);
      } catch (error) {
        return sendRestError(logger, reply, error);
      }
      try {
        const result = await restoreBackup(store, () => iterate(lines), {
          force: queryParam(request, 'force') === 'true',
        });
        return await reply.send(result);
      } catch (error) {
        return sendRestError(logger, reply, error);
      }
    });
  });
}

async function readLines(body: Readable): Promise<string[]> {
  if (!body || typeof body.on !== 'function')
    throw err('CONTENT_TYPE_NOT_SUPPORTED', `A restore body must be ${NDJSON}`);
  const lines: string[] = [];
  let bytes = 0;
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    bytes += line.length + 1;
    if (bytes > MAX_RESTORE_BYTES) {
      body.destroy();
      throw err('PAYLOAD_TOO_LARGE', `A restore body may hold at most ${MAX_RESTORE_BYTES} bytes`, {
        limitBytes: String(MAX_RESTORE_BYTES),
      });
    }
    lines.push(line);
  }
  return lines;
}

async function* iterate(lines: readonly string[]): AsyncGenerator<string, void, undefined> {
  yield* lines;
}
