import { redactUrl } from '../../observability/logger.js';

/** One `host:port` of a Cluster node or a Sentinel. */
export interface RedisHostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the store's Redis is: one server (a URL), a Redis Cluster (any of its nodes: the
 * client discovers the rest and follows slot moves and failovers), or a master found
 * through Redis Sentinel (the client asks the Sentinels again after a failover).
 */
export type RedisTarget =
  | { readonly mode: 'single'; readonly url: string }
  | {
      readonly mode: 'cluster';
      readonly nodes: readonly RedisHostPort[];
      readonly password?: string;
      readonly tls: boolean;
    }
  | {
      readonly mode: 'sentinel';
      readonly sentinels: readonly RedisHostPort[];
      /** The master's name in the Sentinels' configuration (`sentinel monitor <name> ...`). */
      readonly name: string;
      readonly password?: string;
      /** Password of the Sentinels themselves (`requirepass` in sentinel.conf), when they have one. */
      readonly sentinelPassword?: string;
      readonly db: number;
      readonly tls: boolean;
    };

/** The target for logs and the startup banner: addresses only, never a password. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: readonly RedisHostPort[]): string =>
    nodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',');
  switch (target.mode) {
    case 'single':
      return redactUrl(target.url);
    case 'cluster':
      return `cluster ${list(target.nodes)}${target.tls ? ' (tls)' : ''}`;
    case 'sentinel':
      return `sentinel ${target.name}@${list(target.sentinels)}${target.tls ? ' (tls)' : ''}`;
  }
}
