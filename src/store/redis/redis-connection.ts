import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './redis-target.js';

/**
 * Waits until the writes sent before it on the connection of `key`'s node are on replicas.
 * A pipeline with the key is routed to that node on a Cluster, where WAIT alone would go to
 * any node.
 */
export type ReplicaWait = (key: string) => Promise<void>;

/**
 * The store's Redis client: two retries per command, writes coalesced per tick. A Cluster
 * client is returned typed as `Redis`: it has the same command interface (ioredis routes each
 * command by its first key's slot), and the store uses nothing else of a single connection
 * except through {@link coalesceWrites}, which is applied to each node's connection instead.
 * Every key of one script or pipeline shares a hash tag (see RedisKeys), so one slot.
 */
export function connectRedis(target: string | RedisTarget): Redis {
  const t: RedisTarget = typeof target === 'string' ? { mode: 'single', url: target } : target;
  const common: RedisOptions = { maxRetriesPerRequest: 2 };
  switch (t.mode) {
    case 'single': {
      const redis = new Redis(t.url, common);
      coalesceWrites(redis);
      return redis;
    }
    case 'sentinel': {
      const redis = new Redis({
        ...common,
        sentinels: t.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: t.name,
        password: t.password,
        sentinelPassword: t.sentinelPassword,
        db: t.db,
        tls: t.tls ? {} : undefined,
        sentinelTLS: t.tls ? {} : undefined,
        enableTLSForSentinelMode: t.tls,
        // After a failover the old master may come back as a replica: a connection that lands
        // on one (READONLY on a write) reconnects, and the Sentinels name the new master.
        reconnectOnError: (error) => error.message.startsWith('READONLY'),
      });
      coalesceWrites(redis);
      return redis;
    }
    case 'cluster': {
      const cluster = new Cluster(
        t.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          redisOptions: { ...common, password: t.password, tls: t.tls ? {} : undefined },
          // A command for a slot whose master just failed is retried while the Cluster
          // promotes its replica (cluster-node-timeout plus the election), not failed at once.
          retryDelayOnClusterDown: 200,
          retryDelayOnFailover: 200,
          maxRedirections: 32,
          // Nodes are dialled by the name they announce, unresolved here: with TLS the
          // certificate is checked against that name (managed Clusters announce hostnames).
          dnsLookup: (address, callback) => callback(null, address),
        },
      );
      cluster.on('+node', (node: Redis) => coalesceWrites(node));
      return cluster as unknown as Redis;
    }
  }
}

/**
 * Sends the commands issued within one tick in one socket write: the connection is corked
 * at the first command and uncorked on process.nextTick. A task's writes that go out
 * together (its lease, snapshot and index entries) then cost one system call instead of
 * one each, which was the largest item of a Redis-mode request's CPU profile, without the
 * latency of waiting for the next turn of the event loop.
 */
function coalesceWrites(redis: Redis): void {
  const target = redis as unknown as { sendCommand(command: unknown, stream?: unknown): unknown };
  const send = target.sendCommand.bind(redis);
  let corked: (NodeJS.WritableStream & { cork(): void; uncork(): void }) | undefined;
  const uncork = (): void => {
    corked?.uncork();
    corked = undefined;
  };
  target.sendCommand = (command: unknown, stream?: unknown): unknown => {
    const socket = (redis as unknown as { stream?: typeof corked }).stream;
    if (!corked && socket && redis.status === 'ready') {
      corked = socket;
      socket.cork();
      process.nextTick(uncork);
    }
    return send(command, stream);
  };
}
