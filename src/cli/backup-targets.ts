/**
 * Where `agentd backup` reads from and `agentd restore` writes to: a Redis the servers share
 * (direct, with the same config or env the server uses), or a running server's admin
 * endpoints (the only way to reach an embedded store, which lives in that server's memory).
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { authHeaders, credentialsFrom } from '../client/auth.js';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { redisTarget } from '../store/create-store.js';
import type { StoreBackup } from '../store/ports.js';
import type { RestoreResult } from '../store/backup/backup-stream.js';
import { UsageError } from './args.js';
import type { ClientArgs } from './client-options.js';
import type { Outbound } from '../security/outbound.js';

/** The options that pick a Redis source or target. */
export interface RedisArgs {
  readonly redisUrl?: string;
  readonly keyPrefix?: string;
  readonly config?: string;
}

/** A backup port on a Redis, and how to let go of it. */
export interface OpenedRedis {
  readonly store: StoreBackup;
  close(): Promise<void>;
}

/**
 * Connects to the Redis of `--redis-url`, else the one the config (`--config`, or
 * ./agentd.yaml, and the server's environment variables) names: one server, a Cluster
 * (every primary is scanned) or Sentinels (the current master). Retention and the key
 * prefix come from the same config, so restored tasks expire as the servers would expire them.
 */
export async function openRedis(opts: RedisArgs, env: NodeJS.ProcessEnv): Promise<OpenedRedis> {
  let config;
  try {
    config = loadConfig({ configPath: opts.config, env }).config;
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const store = config.store;
  if (!opts.redisUrl && store.kind !== 'redis')
    throw new UsageError(
      'no Redis to use: give --redis-url, or a --config whose store is redis; an embedded store lives in its server: use --from/--to http://host:8080',
    );
  // The servers' own target (one Redis, a Cluster or Sentinels) unless --redis-url names one server.
  const target = opts.redisUrl ?? redisTarget(store.redis);
  const prefix = opts.keyPrefix ?? store.redis.keyPrefix;
  const { connectRedis } = await import('../store/redis/redis-connection.js');
  const { RedisKeys } = await import('../store/redis/redis-keys.js');
  const { RedisTaskStore } = await import('../store/redis/redis-task-store.js');
  const { RedisBackup } = await import('../store/redis/redis-backup.js');
  const redis = connectRedis(target);
  redis.on('error', () => {}); // commands fail with the cause; no unhandled 'error' events
  const keys = new RedisKeys(prefix);
  const retention = {
    ttlMs: store.retention.ttlSeconds * 1000,
    maxTerminalTasks: store.retention.maxTerminalTasks,
  };
  const backup = new RedisBackup(
    redis,
    keys,
    new RedisTaskStore(redis, keys, retention),
    prefix,
    store.retention.closedStreamSeconds * 1000,
  );
  return {
    store: backup,
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The admin endpoint `path` of the server at `base`. */
function adminUrl(base: string, path: string): URL {
  const withScheme = /^https?:\/\//.test(base) ? base : `http://${base}`;
  return new URL(path, withScheme.endsWith('/') ? withScheme : `${withScheme}/`);
}

/** Throws the server's error message (its catalogue code first) for a non-2xx answer. */
async function checked(response: Response, what: string): Promise<Response> {
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as {
      error?: { message?: string; details?: Array<{ reason?: string }> };
    };
    const reason = body.error?.details?.find((d) => d.reason)?.reason;
    if (body.error?.message) message = `${reason ? `${reason}: ` : ''}${body.error.message}`;
  } catch {
    // Not a catalogue error body: the status line says enough.
  }
  throw new Error(`${what} failed: ${message}`);
}

/** The headers and fetch for a server: credentials (flags or AGENTD_API_KEY / AGENTD_TOKEN) and TLS. */
function client(
  base: string,
  opts: ClientArgs,
  env: NodeJS.ProcessEnv,
  outbound: Outbound,
): { fetch: typeof fetch; headers: Record<string, string> } {
  return {
    fetch: outbound.for(adminUrl(base, '/').href).fetch,
    headers: authHeaders(credentialsFrom(opts, env)),
  };
}

/** Streams a running server's backup (`GET /api/v1/admin/backup`). */
export async function fetchBackup(
  base: string,
  opts: ClientArgs & { includeCredentials?: boolean },
  env: NodeJS.ProcessEnv,
  outbound: Outbound,
): Promise<Readable> {
  const { fetch: get, headers } = client(base, opts, env, outbound);
  const url = adminUrl(base, '/api/v1/admin/backup');
  if (opts.includeCredentials) url.searchParams.set('includeCredentials', 'true');
  const response = await checked(await get(url, { headers }), 'backup');
  if (!response.body) throw new Error('backup failed: the server sent no body');
  return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
}

/** Sends a verified backup file to a running server (`POST /api/v1/admin/restore`). */
export async function postRestore(
  base: string,
  body: Readable,
  opts: ClientArgs & { force?: boolean },
  env: NodeJS.ProcessEnv,
  outbound: Outbound,
): Promise<RestoreResult> {
  const { fetch: post, headers } = client(base, opts, env, outbound);
  const url = adminUrl(base, '/api/v1/admin/restore');
  if (opts.force) url.searchParams.set('force', 'true');
  const response = await checked(
    await post(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-ndjson' },
      body: Readable.toWeb(body) as unknown as RequestInit['body'],
      duplex: 'half',
    } as RequestInit),
    'restore',
  );
  return (await response.json()) as RestoreResult;
}
