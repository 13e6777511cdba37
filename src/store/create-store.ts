import type { Logger } from 'pino';
import type { AgentdConfig } from '../config/schema.js';
import { MemoryStateStore } from './memory/memory-state-store.js';
import type { StateStore } from './ports.js';

type StoreConfig = AgentdConfig['store'];

/** The Redis URL for a config: `url` as given, else built from host, port, password, db and tls. */
export function redisUrl(redis: StoreConfig['redis']): string {
  if (redis.url) return redis.url;
  const auth = redis.password ? `:${encodeURIComponent(redis.password)}@` : '';
  return `${redis.tls ? 'rediss' : 'redis'}://${auth}${redis.host}:${redis.port}/${redis.db}`;
}

/** `host:port` of the configured Redis, without credentials (for logs and the banner). */
export function redisAddress(redis: StoreConfig['redis']): string {
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
      url: redisUrl(store.redis),
      keyPrefix: store.redis.keyPrefix,
      retention,
      logger,
      closedStreamTtlMs: store.retention.closedStreamSeconds * 1000,
      sharedStreamReader: store.redis.sharedStreamReader,
      leaseMs: execution ? execution.leaseSeconds * 1000 : undefined,
    });
  }
  return new MemoryStateStore({ retention, maxEventsPerTask: store.maxEventsPerTask });
}
