import { AgentCard } from '@a2a-js/sdk';
import type { Redis } from 'ioredis';
import type { AgentRegistry, RegisteredAgent } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * {@link AgentRegistry} on Redis: each server's agents are one key with a TTL (its
 * heartbeat refreshes it), and a sorted set of server ids by expiry time lets any server
 * list every live entry without scanning the keyspace.
 */
export class RedisAgentRegistry implements AgentRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async register(
    serverId: string,
    agents: ReadonlyArray<Omit<RegisteredAgent, 'serverId'>>,
    ttlMs: number,
  ): Promise<void> {
    const json = JSON.stringify(
      agents.map((a) => ({
        name: a.name,
        cardUrl: a.cardUrl,
        card: AgentCard.toJSON(a.card),
        ...(a.region ? { region: a.region } : {}),
      })),
    );
    await this.redis
      .multi()
      .set(this.keys.registryServer(serverId), json, 'PX', ttlMs)
      .zadd(this.keys.registry(), Date.now() + ttlMs, serverId)
      .exec();
  }

  async deregister(serverId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.registryServer(serverId))
      .zrem(this.keys.registry(), serverId)
      .exec();
  }

  async list(): Promise<RegisteredAgent[]> {
    const now = Date.now();
    await this.redis.zremrangebyscore(this.keys.registry(), '-inf', now);
    const servers = await this.redis.zrangebyscore(this.keys.registry(), now, '+inf');
    if (servers.length === 0) return [];
    const values = await this.redis.mget(...servers.map((id) => this.keys.registryServer(id)));
    const out: RegisteredAgent[] = [];
    values.forEach((json, i) => {
      if (json === null) return;
      const serverId = servers[i] as string;
      for (const a of JSON.parse(json) as Array<{
        name: string;
        cardUrl: string;
        card: unknown;
        region?: unknown;
      }>) {
        out.push({
          serverId,
          name: a.name,
          cardUrl: a.cardUrl,
          card: AgentCard.fromJSON(a.card),
          ...(typeof a.region === 'string' && a.region ? { region: a.region } : {}),
        });
      }
    });
    return out;
  }
}
