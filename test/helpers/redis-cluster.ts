/**
 * A real Redis Cluster for the tests: six loopback redis-servers (three masters, three
 * replicas) made into one with `redis-cli --cluster create`, each in its own temp
 * directory, stopped by PID.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, startRedis, type RedisProcess } from './redis-server.js';

export interface RedisClusterProcess {
  /** Every node's password (`requirepass`, `masterauth`), when one was asked for. */
  readonly password?: string;
  /** Every node, masters first (as `redis-cli --cluster create` paired them). */
  readonly nodes: readonly RedisProcess[];
  /** `127.0.0.1:<port>` of every node (what REDIS_CLUSTER_NODES takes, comma-joined). */
  readonly addresses: readonly string[];
  /** Stops every node that still runs and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts a Cluster of `masters` masters with one replica each; resolves once every node
 * reports `cluster_state:ok`. A short node timeout makes a failover take about a second.
 */
export async function startRedisCluster(
  options: { masters?: number; password?: string } = {},
): Promise<RedisClusterProcess> {
  const { masters = 3, password } = options;
  const ports: number[] = [];
  while (ports.length < masters * 2) {
    const port = await freePort();
    // The cluster bus listens on port + 10000: keep both free and distinct.
    if (port < 55_000 && !ports.includes(port)) ports.push(port);
  }
  const nodes: RedisProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  };
  try {
    for (const port of ports) {
      nodes.push(
        await startRedis({
          port,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '1000',
            ...(password ? ['--requirepass', password, '--masterauth', password] : []),
          ],
        }),
      );
    }
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    await redisCli(
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
      password,
    );
    await pollUntil(
      async () => {
        for (const port of ports) {
          const info = String(await redisCall({ port, password }, 'CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok')) return false;
        }
        return true;
      },
      20_000,
      'every node to report cluster_state:ok',
    );
    return { password, nodes, addresses, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs redis-cli with `args`; rejects with its output when it fails. */
function redisCli(args: readonly string[], password?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // REDISCLI_AUTH rather than -a: the password stays off the process list.
    const env = password ? { ...process.env, REDISCLI_AUTH: password } : process.env;
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`redis-cli ${args.join(' ')} failed:\n${output}`)),
    );
  });
}

/** The port of the master that serves `key`'s slot now, as the node `ask` sees it. */
export async function masterPortOf(
  ask: { readonly port: number; readonly password?: string },
  key: string,
): Promise<number> {
  const slot = Number(await redisCall(ask, 'CLUSTER', 'KEYSLOT', key));
  const ranges = (await redisCall(ask, 'CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
  const range = ranges.find(([from, to]) => from <= slot && slot <= to);
  if (!range) throw new Error(`no node serves slot ${slot}`);
  return Number(range[2][1]);
}

/** One command to the redis-server (or Sentinel) on `server`'s port, over a short-lived connection. */
export async function redisCall(
  server: number | { readonly port: number; readonly password?: string },
  ...command: [string, ...string[]]
): Promise<unknown> {
  const { port, password } = typeof server === 'number' ? { port: server, password: undefined } : server;
  const client = new Redis(port, '127.0.0.1', {
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.call(...command);
  } finally {
    client.disconnect();
  }
}

/**
 * Polls `check` every 50 ms until it returns true (a Redis role change has no event to
 * await from outside); a throwing check counts as false. Rejects after `timeoutMs`.
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}
