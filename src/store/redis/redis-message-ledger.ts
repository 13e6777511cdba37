import type { Redis } from 'ioredis';
import type { MessageLedger } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Records `ARGV[1]` at KEYS[1] for ARGV[2] ms unless the key holds a value (returned then).
 * The index KEYS[2] (score: when) keeps the ledger bounded: entries past their TTL and the
 * oldest beyond ARGV[4] entries are dropped. The keys share the hash tag `{m}`, so the
 * script touches one Cluster slot. KEYS: entry, index. ARGV: value, ttl ms, now ms, max.
 */
const CLAIM = `
local found = redis.call('GET', KEYS[1])
if found then return found end
local ttl = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, key in ipairs(oldest) do redis.call('DEL', key) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return false`;

/**
 * {@link MessageLedger} as one string key per message with a TTL, claimed by a script (any
 * Redis version), and bounded in count like the finished tasks it points to.
 */
export class RedisMessageLedger implements MessageLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly maxEntries: number,
  ) {
    redis.defineCommand('agentdClaimMessage', { numberOfKeys: 2, lua: CLAIM });
  }

  async claim(key: string, value: string, ttlMs: number): Promise<string | undefined> {
    const claim = (this.redis as unknown as { agentdClaimMessage(...a: string[]): Promise<string | null> })
      .agentdClaimMessage;
    const found = await claim.call(
      this.redis,
      this.keys.message(key),
      this.keys.messageIndex(),
      value,
      String(Math.max(1, Math.round(ttlMs))),
      String(Date.now()),
      String(this.maxEntries),
    );
    return found ?? undefined;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.message(key))) ?? undefined;
  }

  async settle(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.message(key), value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async release(key: string): Promise<void> {
    await this.redis.del(this.keys.message(key));
  }
}
