import type { Redis } from 'ioredis';
import type { MessageLedger } from '../ports.js';
import type { RedisKeys } from './redis-keys.js';

/** {@link MessageLedger} as one string key per message, set with NX and a TTL. */
export class RedisMessageLedger implements MessageLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async claim(key: string, value: string, ttlMs: number): Promise<string | undefined> {
    // SET NX GET (Redis 7): sets when absent and answers the value that was there.
    const found = await this.redis.set(
      this.keys.message(key),
      value,
      'PX',
      Math.max(1, Math.round(ttlMs)),
      'NX',
      'GET',
    );
    return found ?? undefined;
  }

  async settle(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.message(key), value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async release(key: string): Promise<void> {
    await this.redis.del(this.keys.message(key));
  }
}
