import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RateDecision, RateLimiter } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * Takes one token from the bucket at KEYS[1], on Redis's own clock (TIME), so every replica
 * sees one bucket and agrees on its refill whatever their clocks say. The same arithmetic as
 * src/security/token-bucket.ts, in microseconds. The bucket expires once it would be full
 * again, so idle buckets cost nothing.
 * KEYS: bucket. ARGV: rate per second, burst. Returns {allowed (0|1), retry after µs}.
 */
const TAKE = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
  at = now
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.0f', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return {allowed, retry}`;

/** Longest a take may wait for Redis before the caller treats Redis as unavailable. */
const TAKE_TIMEOUT_MS = 1000;

/**
 * {@link RateLimiter} on Redis: one hash per bucket changed by one script (one key, one
 * Cluster slot), so a limit holds across every replica sharing the store. While the
 * connection is down a take fails at once instead of queueing behind the reconnect.
 */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('agentdTakeToken', { numberOfKeys: 1, lua: TAKE });
  }

  async take(key: string, limit: { ratePerSecond: number; burst: number }): Promise<RateDecision> {
    if (this.redis.status !== 'ready') throw new Error(`Redis connection is ${this.redis.status}`);
    const take = (this.redis as unknown as { agentdTakeToken(...a: string[]): Promise<[number, number]> })
      .agentdTakeToken;
    const digest = createHash('sha256').update(key).digest('base64url');
    let timer: NodeJS.Timeout | undefined;
    try {
      const [allowed, retryUs] = await Promise.race([
        take.call(this.redis, this.keys.rateBucket(digest), String(limit.ratePerSecond), String(limit.burst)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('Redis did not answer in time')), TAKE_TIMEOUT_MS);
        }),
      ]);
      return { allowed: allowed === 1, retryAfterMs: retryUs / 1000 };
    } finally {
      clearTimeout(timer);
    }
  }
}
