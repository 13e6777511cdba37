/**
 * A real Redis Sentinel group for the tests: a master, one replica and three
 * redis-sentinel processes on loopback, each in its own temp directory, stopped by PID.
 * redis-sentinel comes from Debian's `redis-sentinel` package (installed as root when
 * missing, like redis-server).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianTool } from './debian-tool.js';
import { pollUntil, redisCall } from './redis-cluster.js';
import { freePort, startRedis, type RedisProcess } from './redis-server.js';

/** The master name the Sentinels monitor (REDIS_SENTINEL_MASTER). */
export const SENTINEL_MASTER = 'agentd';

export interface RedisSentinelGroup {
  /** The master's and replica's password (`requirepass`, `masterauth`), when one was asked for. */
  readonly password?: string;
  /** The Sentinels' own password (`requirepass` in sentinel.conf), when one was asked for. */
  readonly sentinelPassword?: string;
  readonly master: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: readonly RedisProcess[];
  /** `127.0.0.1:<port>` of every Sentinel (what REDIS_SENTINELS takes, comma-joined). */
  readonly addresses: readonly string[];
  /** The port of the server the Sentinels currently name master. */
  masterPort(): Promise<number>;
  /** Stops every process that still runs and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts the group and resolves once the replica is in sync and every Sentinel knows the
 * master, its replica and the other Sentinels (so a failover can be agreed on at once).
 * Short timeouts: a dead master is noticed after 1 s and failed over within about 2 s.
 */
export async function startRedisSentinel(
  options: { password?: string; sentinelPassword?: string } = {},
): Promise<RedisSentinelGroup> {
  const { password, sentinelPassword } = options;
  const auth = password ? ['--requirepass', password, '--masterauth', password] : [];
  ensureDebianTool('redis-sentinel', 'redis-sentinel');
  const started: RedisProcess[] = [];
  const dirs: string[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(started.map((p) => p.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  try {
    const master = await startRedis({ args: auth });
    started.push(master);
    const replica = await startRedis({ args: [...auth, '--replicaof', '127.0.0.1', String(master.port)] });
    started.push(replica);
    await pollUntil(
      async () =>
        String(await redisCall({ port: replica.port, password }, 'INFO', 'replication')).includes(
          'master_link_status:up',
        ),
      10_000,
      'the replica to sync with its master',
    );
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'agentd-sentinel-'));
      dirs.push(dir);
      const configFile = join(dir, 'sentinel.conf');
      writeFileSync(
        configFile,
        [
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          ...(password ? [`sentinel auth-pass ${SENTINEL_MASTER} ${password}`] : []),
          // Also the password Sentinels present to each other.
          ...(sentinelPassword ? [`requirepass ${sentinelPassword}`] : []),
          '',
        ].join('\n'),
      );
      const sentinel = await startRedis({
        command: 'redis-sentinel',
        configFile,
        port: await freePort(),
        dir,
        readyLine: 'Sentinel ID is',
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    await pollUntil(
      async () => {
        for (const s of sentinels) {
          const [info] = (await redisCall(
            { port: s.port, password: sentinelPassword },
            'SENTINEL',
            'MASTERS',
          )) as string[][];
          const fields = fieldMap(info ?? []);
          if (fields['num-slaves'] !== '1' || fields['num-other-sentinels'] !== '2') return false;
        }
        return true;
      },
      20_000,
      'every Sentinel to know the replica and the other Sentinels',
    );
    return {
      password,
      sentinelPassword,
      master,
      replica,
      sentinels,
      addresses: sentinels.map((s) => `127.0.0.1:${s.port}`),
      masterPort: async () => {
        for (const s of sentinels) {
          try {
            const reply = (await redisCall(
              { port: s.port, password: sentinelPassword },
              'SENTINEL',
              'GET-MASTER-ADDR-BY-NAME',
              SENTINEL_MASTER,
            )) as string[];
            return Number(reply[1]);
          } catch {
            // a stopped Sentinel: ask the next
          }
        }
        throw new Error('no Sentinel answered');
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A flat Redis reply [k1, v1, k2, v2, ...] as an object. */
function fieldMap(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}
