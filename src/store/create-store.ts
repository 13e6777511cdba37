import type { Logger } from 'pino';
import type { AgentdConfig } from '../config/schema.js';
import { MemoryStateStore } from './memory/memory-state-store.js';
import type { StateStore } from './ports.js';
import { describeRedisTarget, type RedisTarget } from './redis/redis-target.js';

type StoreConfig = AgentdConfig['store'];

/** The Redis URL for a config: `url` as given, else built from host, port, password, db and tls. */
export function redisUrl(redis: StoreConfig['redis']): string {
  if (redis.url) return redis.url;
  const auth = redis.password ? `:${encodeURIComponent(redis.password)}@` : '';
  return `${redis.tls ? 'rediss' : 'redis'}://${auth}${redis.host}:${redis.port}/${redis.db}`;
}

/**
 * Where the configured Redis is, for the client: one server's URL, a Cluster's seed nodes, or
 * the Sentinels and master name. Both Cluster and Sentinel use `password` and `tls`.
 */
export function redisTarget(redis: StoreConfig['redis']): RedisTarget {
  if (redis.cluster) {
    return { mode: 'cluster', nodes: redis.cluster.nodes, password: redis.password, tls: redis.tls };
  }
  if (redis.sentinel) {
    return {
      mode: 'sentinel',
      sentinels: redis.sentinel.sentinels,
      name: redis.sentinel.name,
      password: redis.password,
      sentinelPassword: redis.sentinel.password,
      db: redis.db,
      tls: redis.tls,
    };
  }
  return { mode: 'single', url: redisUrl(redis) };
}

/** `host:port` of the configured Redis (or its Cluster nodes or Sentinels), without credentials (for logs and the banner). */
export function redisAddress(redis: StoreConfig['redis']): string {
  if (redis.cluster || redis.sentinel) return describeRedisTarget(redisTarget(redis));
  const u = new URL(redisUrl(redis));
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/**
 * Builds the configured backend. The Redis one is imported only when configured: ioredis
 * costs ~10 MB of RSS that the embedded store does not need.
 */
export async function createStore(
  store: StoreConfig,
  logger?: Logger,
  execution?: { leaseSeconds: number },
): Promise<StateStore> {
  const retention = {
    ttlMs: store.retention.ttlSeconds * 1000,
    maxTerminalTasks: store.retention.maxTerminalTasks,
    maxTerminalBytes: store.retention.maxTerminalBytes,
  };
  if (store.kind === 'redis') {
    const { RedisStateStore } = await import('./redis/redis-state-store.js');
    return new RedisStateStore({
      url: redisTarget(store.redis),
      keyPrefix: store.redis.keyPrefix,
      retention,
      logger,
      closedStreamTtlMs: store.retention.closedStreamSeconds * 1000,
      sharedStreamReader: store.redis.sharedStreamReader,
      leaseMs: execution ? execution.leaseSeconds * 1000 : undefined,
      waitReplicas: store.redis.waitReplicas,
      waitTimeoutMs: store.redis.waitTimeoutMs,
    });
  }
  return new MemoryStateStore({ retention, maxEventsPerTask: store.maxEventsPerTask });
}
